// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings are Dockerfile instructions, whose ${VAR} references are the point
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

test('ENV takes k=v pairs (quoted or escaped) and the one-pair `k v` form; a later value replaces an earlier one where it stands', (t) => {
  t.deepEqual(applyInstructions({ Env: ['PATH=/bin', 'A=0'] }, ['ENV A=1 B="x y" C=a\\ b', 'ENV PATH /usr/bin:/bin']), {
    Env: ['PATH=/usr/bin:/bin', 'A=1', 'B=x y', 'C=a b'],
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
    'FROM is not a supported change instruction (use one of CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR)',
  );
  t.is(message('CMD'), 'CMD requires an argument');
  t.is(message('ENV ONLYKEY'), 'ENV ONLYKEY: missing a value (write ENV key=value)');
  t.is(message('LABEL a=1 =b'), 'LABEL: "=b" is not key=value');
  t.is(message('EXPOSE http'), 'EXPOSE: invalid port "http"');
  t.is(message('ENV A="open'), 'unterminated quote in "A=\\"open"');
  t.is(message('   '), 'empty instruction: "   "');
});

test('commit also takes VOLUME, STOPSIGNAL and ONBUILD, replaces a variable in place, and expands $VAR against the Env before each instruction', (t) => {
  const config = applyInstructions(
    { Env: ['PATH=/bin', 'HOME=/root'] },
    [
      'ENV PATH=/usr/bin:$PATH OLD=$PATH',
      'ENV GREETING hello ${HOME}',
      "ENV LITERAL='$HOME' ESCAPED=\\$HOME UNSET=${NOPE:-dflt} SETALT=${HOME:+yes} EMPTYALT=${NOPE:+yes}",
      'WORKDIR $HOME/app',
      'USER ${USER:-app}',
      'LABEL home=$HOME',
      'VOLUME /data $HOME/cache',
      'VOLUME ["/json"]',
      'STOPSIGNAL SIGKILL',
      'ONBUILD RUN echo $HOME',
      'EXPOSE ${PORT:-80}',
    ],
    { commit: true },
  );
  t.deepEqual(config, {
    Env: [
      'PATH=/usr/bin:/bin',
      'HOME=/root',
      'OLD=/bin',
      'GREETING=hello /root',
      'LITERAL=$HOME',
      'ESCAPED=$HOME',
      'UNSET=dflt',
      'SETALT=yes',
      'EMPTYALT=',
    ],
    WorkingDir: '/root/app',
    User: 'app',
    Labels: { home: '/root' },
    Volumes: { '/data': {}, '/root/cache': {}, '/json': {} },
    StopSignal: 'SIGKILL',
    OnBuild: ['RUN echo $HOME'],
    ExposedPorts: { '80/tcp': {} },
  });
});

test("moby's TestCommitInheritsEnv: ENV PATH=/usr/bin:$PATH over PATH=/bin", (t) => {
  t.deepEqual(applyInstructions({ Env: ['PATH=/bin'] }, ['ENV PATH=/usr/bin:$PATH'], { commit: true }), { Env: ['PATH=/usr/bin:/bin'] });
});

test("import expands and replaces as Docker 20.10's import does (measured: the same builder as commit), without STOPSIGNAL; commit names its set in the error", (t) => {
  // docker import -c 'ENV A=1' -c 'ENV B=$A C=x' -c 'ENV A=2' -c 'WORKDIR /w/$B' -c 'LABEL l=$A' -c 'VOLUME /v$A' -c 'CMD echo $A'
  t.deepEqual(
    applyInstructions({}, [
      'ENV A=1',
      'ENV B=$A C=x',
      'ENV A=2',
      'WORKDIR /w/$B',
      'LABEL l=$A',
      'VOLUME /v$A',
      'CMD echo $A',
      'ONBUILD RUN x',
    ]),
    {
      Env: ['A=2', 'B=1', 'C=x'],
      WorkingDir: '/w/1',
      Labels: { l: '2' },
      Volumes: { '/v2': {} },
      Cmd: ['/bin/sh', '-c', 'echo $A'],
      OnBuild: ['RUN x'],
    },
  );
  t.throws(() => applyInstructions({}, ['STOPSIGNAL SIGUSR1']), {
    message:
      'STOPSIGNAL is not a supported change instruction (use one of CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR)',
  });
  const message = (line: string) => (t.throws(() => applyInstructions({}, [line], { commit: true })) as StrataError).message;
  t.is(
    message('RUN true'),
    'RUN is not a supported change instruction (use one of CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR)',
  );
  t.is(message('ONBUILD ONBUILD RUN x'), "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
  t.is(message('ONBUILD from x'), "FROM isn't allowed as an ONBUILD trigger");
  t.is(message('STOPSIGNAL not a signal'), 'STOPSIGNAL: invalid signal "not a signal"');
  t.is(message('VOLUME [""]'), 'VOLUME specified can not be an empty string');
  t.is(message('ENV A=${B'), 'missing \'}\' in "A=${B"');
  t.is(message('ENV A=${B!}'), 'bad substitution in "A=${B!}"');
});
