// Minimal typing for the GopherJS build of mvdan/sh: nodes are opaque objects read through ./syntax.ts.
declare module "mvdan-sh" {
  interface Syntax {
    NewParser(): { Parse(src: string, name: string): unknown };
    Walk(node: unknown, visit: (node: unknown) => boolean): void;
    NodeType(node: unknown): string;
  }
  const sh: { syntax: Syntax };
  export default sh;
}
