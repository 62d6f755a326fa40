/**
 * A failure a container tool reports in its own words (`touch: /x: Read-only file
 * system`): main.ts prints the lines as they are, without the `strata:` prefix, and
 * exits 1 — the output a script would get from the same tool inside the container.
 */
export class ToolError extends Error {
  constructor(readonly lines: string[]) {
    super(lines.join('\n'));
    this.name = 'ToolError';
  }
}
