import test, { type Implementation, type Macro, type SkipFn } from 'ava';

/**
 * Registers tests that need something this machine may lack (root, a tool, ../shared).
 * The decision is made when the file loads: with no reason the tests run as usual;
 * with one they are registered with `test.skip` and the reason ends their title, so
 * `ava --verbose` lists `- <title> — skipped: <reason>` among the skipped tests
 * instead of counting a test that checked nothing as passed.
 *
 *   const maybe = testUnless(await kernelOverlaySkipReason());
 *   maybe('the kernel agrees', async (t) => { … });
 *   maybe.serial(someMacro, arg);
 *
 * Await every probe before the file's first test: ava stops taking declarations on the
 * tick after the first one, and a test declared after a later await throws.
 */
export type TestRegistrar = SkipFn & { serial: SkipFn };

export function testUnless(reason: string | null): TestRegistrar {
  return Object.assign(registrar(test, test.skip, reason), { serial: registrar(test.serial, test.serial.skip, reason) });
}

/** The first reason that is not null: a test that needs several things names the first one missing. */
export function firstReason(...reasons: (string | null)[]): string | null {
  return reasons.find((r) => r !== null) ?? null;
}

function registrar(run: SkipFn, skip: SkipFn, reason: string | null): SkipFn {
  function register<Args extends unknown[]>(title: string, implementation: Implementation<Args>, ...args: Args): void;
  function register<Args extends unknown[]>(macro: Macro<Args>, ...args: Args): void;
  function register<Args extends unknown[]>(first: string | Macro<Args>, ...rest: unknown[]): void {
    if (typeof first === 'string') {
      const [implementation, ...args] = rest as [Implementation<Args>, ...Args];
      if (reason === null) run(first, implementation, ...args);
      else skip(first, withReason(implementation, reason), ...args);
    } else if (reason === null) {
      run(first, ...(rest as Args));
    } else {
      skip(withReason(first, reason), ...(rest as Args));
    }
  }
  return register;
}

/**
 * The implementation as a macro whose title ends with the reason. A macro's own title
 * function replaces the provided title, so the reason goes after what it returns.
 */
function withReason<Args extends unknown[]>(implementation: Implementation<Args>, reason: string): Macro<Args> {
  const exec = typeof implementation === 'function' ? implementation : implementation.exec;
  const title = typeof implementation === 'function' ? undefined : implementation.title;
  return test.macro<Args>({
    exec,
    title: (provided, ...args) => `${title?.(provided, ...args) ?? provided ?? ''} — skipped: ${reason}`,
  });
}
