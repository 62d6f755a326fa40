import test from 'ava';
import { ellipsis, formatG, humanDuration, humanSize, table } from '../../src/cli/format.js';
import { compileTemplate, goString } from '../../src/cli/template.js';

// Expected strings are what Docker 20.10 printed for the same numbers (../shared/conformance/docker).
test('sizes print like docker: %.3g in image tables, %.4g in system df', (t) => {
  t.is(humanSize(1_982_876, 3), '1.98MB');
  t.is(humanSize(1_982_876), '1.983MB');
  t.is(humanSize(69_094_000, 3), '69.1MB');
  t.is(humanSize(69_094_000), '69.09MB');
  t.is(humanSize(63), '63B');
  t.is(humanSize(0), '0B');
  t.is(humanSize(3_146_000), '3.146MB');
  t.is(humanSize(8_390_000, 3), '8.39MB');
  t.is(humanSize(12_500, 3), '12.5kB');
});

// go-units formats with Go's %g: an exponent once the value needs more digits than the
// precision, and exact ties rounded to even. Expected strings are what Go prints.
test('sizes just under a unit boundary print as Go prints them (1e+03kB)', (t) => {
  t.is(humanSize(999_999, 3), '1e+03kB');
  t.is(humanSize(999_999), '1000kB');
  t.is(humanSize(999_500, 3), '1e+03kB');
  t.is(humanSize(999_499, 3), '999kB');
  t.is(humanSize(999, 3), '999B');
  t.is(humanSize(1_000, 3), '1kB');
  t.is(humanSize(8_389_000, 3), '8.39MB');
  t.is(humanSize(8_389_000), '8.389MB');
});

test('%g rounds the exact value of the double, ties to even, as Go does', (t) => {
  t.is(humanSize(1_125, 3), '1.12kB'); // 1.125 is exact: a tie, 2 is even
  t.is(humanSize(1_135, 3), '1.14kB'); // 1.135 is 1.13500000000000000888…: not a tie
  t.is(formatG(0.125, 2), '0.12');
  t.is(formatG(2.5, 1), '2');
  t.is(formatG(3.5, 1), '4');
  t.is(formatG(123_456, 3), '1.23e+05');
  t.is(formatG(0.000_012_34, 3), '1.23e-05');
  t.is(formatG(0.000_123_4, 3), '0.000123');
  t.is(formatG(100, 3), '100');
});

test('durations print like docker', (t) => {
  t.is(humanDuration(300), 'Less than a second');
  t.is(humanDuration(1000), '1 second');
  t.is(humanDuration(44_000), '44 seconds');
  t.is(humanDuration(61_000), 'About a minute');
  t.is(humanDuration(3 * 3_600_000), '3 hours');
  t.is(humanDuration(3 * 86_400_000), '3 days');
});

test('tables align like docker/cli tabwriter (min width 10, padding 3)', (t) => {
  const out = table([
    ['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'],
    ['lab/committed', '1.0', '8a8c7cf1ee89', '10 seconds ago', '1.98MB'],
    ['lab/web', 'latest', '84d0d8c85944', '12 seconds ago', '1.98MB'],
  ]);
  t.is(
    out,
    'REPOSITORY      TAG       IMAGE ID       CREATED          SIZE\n' +
      'lab/committed   1.0       8a8c7cf1ee89   10 seconds ago   1.98MB\n' +
      'lab/web         latest    84d0d8c85944   12 seconds ago   1.98MB\n',
  );
});

test("long text is cut to docker's 45 characters with an ellipsis", (t) => {
  t.is(ellipsis('umoci raw add-layer empty.tar (1024 zero bytes of padding)', 45), 'umoci raw add-layer empty.tar (1024 zero byt…');
  t.is(ellipsis('short', 45), 'short');
});

test('templates: fields, json, join, index and Go value printing', (t) => {
  const value = {
    Id: 'sha256:ab',
    RootFS: { Layers: ['sha256:1', 'sha256:2'] },
    GraphDriver: { Data: { UpperDir: '/u' } },
    Labels: { 'a.b': 'c' },
  };
  t.is(compileTemplate('{{.Id}}').render(value), 'sha256:ab');
  t.is(compileTemplate('{{.RootFS.Layers}}').render(value), '[sha256:1 sha256:2]');
  t.is(compileTemplate('{{json .RootFS}}').render(value), '{"Layers":["sha256:1","sha256:2"]}');
  t.is(compileTemplate('{{join .RootFS.Layers ","}}').render(value), 'sha256:1,sha256:2');
  t.is(compileTemplate('{{index .Labels "a.b"}}').render(value), 'c');
  t.is(compileTemplate('{{.GraphDriver.Data.UpperDir}}\\t{{len .RootFS.Layers}}').render(value), '/u\t2');
  t.is(goString({ b: 1, a: [true] }), 'map[a:[true] b:1]');
});

test('a template naming a missing field is a usage error, not a crash', (t) => {
  const err = t.throws(() => compileTemplate('{{.Nope}}').render({ Id: 'x' }));
  t.is((err as { code?: string }).code, 'EUSAGE');
  t.regex(err!.message, /can't evaluate field Nope/);
});

test('table templates print a docker-style header', (t) => {
  const tpl = compileTemplate('table {{.Repository}}\\t{{.ID}}');
  t.true(tpl.isTable);
  t.is(tpl.header(), 'REPOSITORY\tIMAGE ID');
});

// Expected strings below are what Go's text/template (with docker's functions) prints
// for the same template and data.
const lab = {
  Name: 'web',
  N: 3,
  List: ['a', 'b'],
  Labels: { 'x.y': '1', b: '2' },
  Images: [
    { Repository: 'r1', Size: '1MB' },
    { Repository: 'r2', Size: '2MB' },
  ],
  GraphDriver: { Data: { UpperDir: '/u' }, Name: 'overlay2' },
};
const render = (source: string, value: unknown = lab) => compileTemplate(source, { typeName: 'lab' }).render(value);

test('templates: range over lists and maps, with variables and else', (t) => {
  t.is(render('{{range .Images}}{{.Repository}}={{.Size}};{{end}}'), 'r1=1MB;r2=2MB;');
  t.is(render('{{range $i, $e := .List}}{{$i}}:{{$e}} {{end}}'), '0:a 1:b ');
  t.is(render('{{range $k, $v := .Labels}}{{$k}}={{$v}},{{end}}'), 'b=2,x.y=1,');
  t.is(render('{{range .List}}{{.}}{{else}}none{{end}}|{{range .Labels.nope}}x{{else}}none{{end}}'), 'ab|none');
  t.is(render('{{range .Images}}{{$.Name}}/{{.Repository}} {{end}}'), 'web/r1 web/r2 ');
  t.is(render('{{$n := .Name}}{{range .List}}{{$n}}{{.}}{{end}}'), 'webawebb');
});

test('templates: println, print and printf as Go prints', (t) => {
  t.is(render('{{range .Images}}{{println .Repository .Size}}{{end}}'), 'r1 1MB\nr2 2MB\n');
  t.is(render('{{println}}'), '\n');
  t.is(render('{{print 1 2 "a" 3}}'), '1 2a3');
  t.is(render('{{printf "%-5s|%5s|%03d|%q|%v|%x" .Name .Name .N .Name .List 255}}'), 'web  |  web|003|"web"|[a b]|ff');
  t.is(render('{{printf "%d" .Name}}'), '%!d(string=web)');
  t.is(render('{{printf "%s %s" .Name}}'), 'web %!s(MISSING)');
  t.is(render('{{printf "%s" .Name .N}}'), 'web%!(EXTRA int=3)');
  t.is(render('{{printf "%.1f%%" 12.345}}'), '12.3%');
});

test('templates: pipelines and parenthesised pipelines', (t) => {
  t.is(render('{{.Name | upper}}'), 'WEB');
  t.is(render('{{.Name | printf "%s!" | upper}}'), 'WEB!');
  t.is(render('{{(index .Images 1).Repository}}'), 'r2');
  t.is(render('{{len (split "a,b,c" ",")}} {{join (split "a b" " ") "+"}}'), '3 a+b');
  t.is(render('{{upper (printf "%s-%d" .Name .N)}}'), 'WEB-3');
});

test('templates: if, else if, with, comparisons and logic', (t) => {
  t.is(render('{{if eq .Name "web"}}yes{{else}}no{{end}}'), 'yes');
  t.is(render('{{if gt .N 5}}big{{else if gt .N 2}}mid{{else}}small{{end}}'), 'mid');
  t.is(render('{{if and .Name (not .List)}}a{{else if or .Nothing .N}}b{{end}}', { ...lab, Nothing: '' }), 'b');
  t.is(render('{{with .GraphDriver}}{{.Name}} {{.Data.UpperDir}}{{end}}'), 'overlay2 /u');
  // and/or stop at the argument that decides, so the guarded index never runs.
  t.is(
    render('{{if and .Empty (index .Empty 0)}}x{{else}}guarded{{end}} {{or .Name (index .Empty 0)}}', { ...lab, Empty: [] }),
    'guarded web',
  );
  t.is(render('{{with .Labels.nope}}x{{else}}empty{{end}}'), 'empty');
  t.is(render('{{eq .N 1 2 3}} {{ne .Name "x"}} {{lt 1 2}} {{le "b" "a"}} {{ge .N 3}}'), 'true true true false true');
});

test('templates: docker functions, Go value printing, trim markers and comments', (t) => {
  t.is(render('{{json .Images}}'), '[{"Repository":"r1","Size":"1MB"},{"Repository":"r2","Size":"2MB"}]');
  t.is(render('{{json .GraphDriver.Data.Nope}}'), 'null');
  t.is(render('{{title "hello wide world"}} {{lower "ABC"}} {{pad .Name 1 2}}| {{truncate .Name 2}}'), 'Hello Wide World abc  web  | we');
  t.is(render('{{.GraphDriver}}'), '{map[UpperDir:/u] overlay2}');
  t.is(render('{{.Labels}} {{.List}} {{.GraphDriver.Data.Nope}}'), 'map[b:2 x.y:1] [a b] <no value>');
  t.is(render('{{index .Labels "x.y"}} {{index .List 0}} {{len .Labels}} {{slice .List 1}}'), '1 a 2 [b]');
  t.is(render('a  {{- .Name -}}  b {{/* a comment */}}c'), 'awebb c');
  t.is(render('{{`say "hi"`}}'), 'say "hi"');
});

test("template errors are one line in Go's words, and a usage error", (t) => {
  const failure = (source: string) => {
    const err = t.throws(() => render(source));
    t.is((err as { code?: string }).code, 'EUSAGE');
    return err!.message;
  };
  t.is(failure('{{.Nope}}'), 'template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type lab');
  t.is(failure('x\n  {{.Name.First}}'), 'template: :2:4: executing "" at <.Name.First>: can\'t evaluate field First in type string');
  t.is(failure('{{nope .}}'), 'template: :1: function "nope" not defined');
  t.is(failure('{{range .List}}'), 'template: :1: unexpected EOF');
  t.is(failure('{{end}}'), 'template: :1: unexpected {{end}}');
  t.is(failure('{{.Name'), 'template: :1: unclosed action');
  t.is(failure('{{index .List 5}}'), 'template: :1:2: executing "" at <index .List 5>: error calling index: index out of range: 5');
  t.is(
    failure('{{join .Name ","}}'),
    'template: :1:2: executing "" at <join .Name ",">: error calling join: wrong type for value; expected []string; got string',
  );
  t.is(failure('{{$x}}'), 'template: :1:2: executing "" at <$x>: undefined variable "$x"');
  t.is(failure('{{.Name 1}}'), 'template: :1:2: executing "" at <.Name 1>: can\'t give argument to non-function .Name');
  t.is(failure('{{range .N}}{{end}}'), 'template: :1:8: executing "" at <.N>: range can\'t iterate over 3');
  t.is(failure('{{json}}'), 'template: :1:2: executing "" at <json>: wrong number of args for json: want 1 got 0');
});

test("table templates take headers from the field names, with docker's names where they differ", (t) => {
  const tpl = compileTemplate('table {{.ID}}\\t{{.LocalVolumes}}\\t{{.RunningFor}}\\t{{upper .Names}}', {
    headers: { ID: 'CONTAINER ID' },
  });
  t.true(tpl.isTable);
  t.is(tpl.header(), 'CONTAINER ID\tLOCAL VOLUMES\tCREATED\tNAMES');
  t.false(compileTemplate('tablet {{.ID}}').isTable);
});
