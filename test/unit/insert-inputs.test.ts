/** The pure parts of Insert: Armbian file names, release files, unit files, versions, tags, profiles. */
import test from 'node:test';
import assert from 'node:assert/strict';
import {
  parseArmbianFileName,
  parseShellAssignments,
  atlasMarkerPaths,
} from '../../main/engine/jobs/insert/armbian';
import { execCommand, parseUnitFile, wantedBy } from '../../main/engine/jobs/insert/systemd-unit';
import { checkFirstboot, checkService } from '../../main/engine/jobs/insert';
import { DEFAULT_DESTINATIONS, resolveProfile } from '../../main/engine/jobs/insert/profile';
import { isAtlasError } from '../../main/engine/errors';

test('Armbian file names decode into their fields (docs/armbian-rpi4b.md §5)', () => {
  assert.deepEqual(parseArmbianFileName('/x/Armbian_26.2.1_Rpi4b_trixie_current_6.18.9_minimal.img.xz'), {
    vendor: 'Armbian',
    version: '26.2.1',
    board: 'Rpi4b',
    release: 'trixie',
    branch: 'current',
    kernel: '6.18.9',
    desktop: null,
    suffix: null,
    variant: 'minimal',
    nfsboot: false,
  });
  const desktop = parseArmbianFileName('Armbian_24.11.1_Rpi4b_bookworm_current_6.6.60_xfce_desktop.img.xz');
  assert.equal(desktop?.desktop, 'xfce');
  assert.equal(desktop?.variant, 'desktop');
  const trunk = parseArmbianFileName(
    'Armbian-unofficial_25.2.0-trunk.123_Rpi4b_noble_edge_6.13.1-ci_minimal.img',
  );
  assert.equal(trunk?.vendor, 'Armbian-unofficial');
  assert.equal(trunk?.version, '25.2.0-trunk.123');
  assert.equal(trunk?.branch, 'edge');
  assert.equal(trunk?.suffix, '-ci');
  assert.equal(parseArmbianFileName('Armbian_26.2.1_Rpi4b_trixie_current_6.18.9.img')?.variant, null);
  for (const ext of ['.img', '.img.gz', '.img.zst', '.zip', '.img.zip']) {
    assert.equal(
      parseArmbianFileName(`Armbian_26.2.1_Rpi4b_trixie_current_6.18.9_minimal${ext}`)?.kernel,
      '6.18.9',
    );
  }
  assert.equal(parseArmbianFileName('ods-atlas-golden-v8-1-FLASH.img'), null);
  assert.equal(parseArmbianFileName('raspios-bookworm-arm64.img.xz'), null);
});

test('release files parse like a shell would read them', () => {
  const fields = parseShellAssignments(
    '# PLEASE DO NOT EDIT\nBOARD=rpi4b\nBOARD_NAME="Raspberry Pi"\nVENDOR=\'Armbian\'\n  VERSION=26.2.1  \nbroken line\nX="a \\"q\\""\n',
  );
  assert.deepEqual(fields, {
    BOARD: 'rpi4b',
    BOARD_NAME: 'Raspberry Pi',
    VENDOR: 'Armbian',
    VERSION: '26.2.1',
    X: 'a "q"',
  });
});

test('Atlas markers cover golden-release, the firstboot files and the enablement link', () => {
  assert.deepEqual(atlasMarkerPaths(), [
    '/etc/atlas/golden-release',
    '/etc/atlas/atlas_secrets.conf',
    '/usr/local/sbin/atlas_firstboot.sh',
    '/etc/systemd/system/atlas-firstboot.service',
    '/etc/systemd/system/multi-user.target.wants/atlas-firstboot.service',
  ]);
});

test('unit files: sections, repeated keys, continuations, resets, Exec prefixes', () => {
  const unit = parseUnitFile(
    '# c\n[Unit]\nDescription=x\n\n[Service]\nExecStart=-/bin/bash \\\n  "/usr/local/sbin/atlas firstboot.sh" --x\n' +
      '[Install]\nWantedBy=multi-user.target\nWantedBy=\nWantedBy=graphical.target  basic.target\n',
  );
  const exec = unit.sections.get('Service')!.get('ExecStart')!;
  assert.deepEqual(execCommand(exec[0]!), ['/bin/bash', '/usr/local/sbin/atlas firstboot.sh', '--x']);
  assert.deepEqual(wantedBy(unit), ['graphical.target', 'basic.target']);
  assert.deepEqual(execCommand('@+!/usr/bin/env a'), ['/usr/bin/env', 'a']);
});

const file = (text: string): { path: string; data: Buffer; mode: number } => ({
  path: '/in/x',
  data: Buffer.from(text),
  mode: 0o644,
});

test('service checks: runs the script, is a service, can be enabled', () => {
  const ok =
    '[Service]\nExecStart=/usr/local/sbin/atlas_firstboot.sh\n[Install]\nWantedBy=multi-user.target multi-user.target\n';
  assert.deepEqual(checkService(file(ok), DEFAULT_DESTINATIONS.firstboot), ['multi-user.target']);
  const viaShell = ok.replace('ExecStart=/usr', 'ExecStart=/bin/sh /usr');
  assert.deepEqual(checkService(file(viaShell), DEFAULT_DESTINATIONS.firstboot), ['multi-user.target']);
  const refuse = (text: string, re: RegExp): void =>
    assert.throws(
      () => checkService(file(text), DEFAULT_DESTINATIONS.firstboot),
      (e) => isAtlasError(e, 'INVALID_ARGUMENT') && re.test(e.message),
    );
  refuse(ok.replace('atlas_firstboot.sh', 'other.sh'), /does not run the injected script/);
  refuse('[Unit]\nDescription=x\n', /no \[Service\] section/);
  refuse('[Service]\nType=oneshot\n[Install]\nWantedBy=multi-user.target\n', /it has no ExecStart=/);
  refuse(ok.replace(/\[Install\][^]*/, ''), /no WantedBy=/);
  refuse(ok.replace('multi-user.target multi-user.target', '../../etc/passwd'), /not a unit name/);
});

test('firstboot checks: a shebang, and no CRLF', () => {
  checkFirstboot(file('#!/bin/bash\necho\n'));
  assert.throws(() => checkFirstboot(file('echo\n')), /has no shebang/);
  assert.throws(() => checkFirstboot(file('#!/bin/bash\r\necho\r\n')), /CRLF/);
});

test('profiles: defaults, overrides, and refusals that name the key', () => {
  const p = resolveProfile({ buildDir: 'builds', destinations: { secrets: '/etc/x/s.conf' } }, 'p', '/base');
  assert.equal(p.buildDir, '/base/builds');
  assert.equal(p.destinations.secrets, '/etc/x/s.conf');
  assert.equal(p.destinations.firstboot, DEFAULT_DESTINATIONS.firstboot);
  const refuse = (input: unknown, re: RegExp): void =>
    assert.throws(
      () => resolveProfile(input, 'p'),
      (e) => isAtlasError(e, 'INVALID_ARGUMENT') && re.test(e.message),
    );
  refuse([], /JSON object/);
  refuse({ outDir: 'x' }, /unknown key "outDir"/);
  refuse({ destinations: { script: '/x' } }, /unknown destination "script"/);
  refuse({ destinations: { firstboot: 'relative.sh' } }, /absolute path/);
  refuse({ destinations: { firstboot: '/a/../b.sh' } }, /normalised/);
  refuse({ destinations: { service: '/etc/atlas/x.service' } }, /\.service file in \/etc\/systemd\/system/);
  refuse({ destinations: { service: '/etc/systemd/system/x.timer' } }, /\.service file/);
  refuse({ destinations: { secrets: '/etc/atlas/golden-release' } }, /same path/);
});
