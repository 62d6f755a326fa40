import test from 'ava';
import { applyInstructions } from '../../src/image/commit-instructions.js';
import type { StrataError } from '../../src/errors.js';

test('CMD and ENTRYPOINT take a JSON array as is and run anything else under /bin/sh -c', (t) => {
  t.deepEqual(applyInstructions({}, ['CMD ["nginx", "-g", "daemon off;"]', 'entrypoint /start --fast']), {
    Cmd: ['nginx', '-g', 'daemon off;'],
    Entrypoint: ['/bin/sh', '-c', '/start --fast'],
  });
  t.deepEqual(applyInstructions({}, ['CMD [not json']), { Cmd: ['/bin/sh', '-c', '[not json'] });
});

test('ENV takes k=v pairs (quoted or escaped) and the one-pair `k v` form; a later value replaces an earlier one', (t) => {
  t.deepEqual(applyInstructions({ Env: ['PATH=/bin', 'A=0'] }, ['ENV A=1 B="x y" C=a\\ b', 'ENV PATH /usr/bin:/bin']), {
    Env: ['A=1', 'B=x y', 'C=a b', 'PATH=/usr/bin:/bin'],
  });
});

test('WORKDIR, USER, EXPOSE and LABEL', (t) => {
  t.deepEqual(applyInstructions({}, ['WORKDIR /app', 'USER nobody', 'EXPOSE 8080 9000-9001/UDP', 'LABEL version=1 \'org.x\'="y z"']), {
    WorkingDir: '/app',
    User: 'nobody',
    ExposedPorts: { '8080/tcp': {}, '9000-9001/udp': {} },
    Labels: { version: '1', 'org.x': 'y z' },
  });
});

test('each bad instruction is one line naming what is wrong', (t) => {
  const message = (line: string) => {
    const err = t.throws(() => applyInstructions({}, [line])) as StrataError;
    t.is(err.code, 'EUSAGE');
    return err.message;
  };
  t.is(
    message('FROM scratch'),
    'FROM is not a supported change instruction (use one of CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, WORKDIR)',
  );
  t.is(message('CMD'), 'CMD requires an argument');
  t.is(message('ENV ONLYKEY'), 'ENV ONLYKEY: missing a value (write ENV key=value)');
  t.is(message('LABEL a=1 =b'), 'LABEL: "=b" is not key=value');
  t.is(message('EXPOSE http'), 'EXPOSE: invalid port "http"');
  t.is(message('ENV A="open'), 'unterminated quote in "A=\\"open"');
  t.is(message('   '), 'empty instruction: "   "');
});
