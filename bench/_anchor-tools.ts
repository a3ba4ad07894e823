/**
 * The bench scenario (bench/_scenario.ts) written for the anchors: CFEngine,
 * Puppet and Ansible, each the way a user of that tool would write it, with
 * the host facts from the tool's own fact gathering. Each `prepare` writes
 * the policy into `dir` and returns the command that applies it to `out`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { varsOf } from './_scenario.js';

export interface ToolRun {
  cmd: string;
  argv: string[];
  env?: NodeJS.ProcessEnv;
}

export interface AnchorTool {
  name: 'cfengine' | 'puppet' | 'ansible';
  label: string;
  /** Debian package and the executable it brings. */
  pkg: string;
  bin: string;
  version(): string;
  prepare(opts: { dir: string; out: string; n: number }): Promise<ToolRun>;
}

const items = (n: number) => Array.from({ length: n }, (_, i) => ({ i, ...varsOf(i) }));
/** The first line a command prints; '' when it cannot run (not installed yet). */
const firstLine = (cmd: string, argv: string[]) => (spawnSync(cmd, argv, { encoding: 'utf8' }).stdout ?? '').split('\n')[0]?.trim() ?? '';

const cfengine: AnchorTool = {
  name: 'cfengine',
  label: 'CFEngine `cf-agent -K`',
  pkg: 'cfengine3',
  bin: '/usr/bin/cf-agent',
  version: () => firstLine('cf-agent', ['--version']),
  async prepare({ dir, out, n }) {
    const data = Object.fromEntries(items(n).map(({ i, name, value }) => [String(i), { name, value }]));
    await writeFile(join(dir, 'vars.json'), JSON.stringify(data));
    await writeFile(join(dir, 'item.mustache'), '# managed by stems\nhost = {{host}}\nip = {{ip}}\nname = {{name}}\nvalue = {{value}}\n');
    // One files promise iterated over the keys of a data container; no backups (as masterfiles' `edit_defaults => empty`).
    const policy = `body common control { bundlesequence => { "bench" }; }
body perms m(mode) { mode => "$(mode)"; rxdirs => "false"; }
body edit_defaults nobackup { edit_backup => "false"; }
bundle agent bench {
vars:
  "d" data => readjson("${join(dir, 'vars.json')}", 100M);
  "i" slist => getindices("d");
  "facts" data => parsejson('{ "host": "$(sys.fqhost)", "ip": "$(sys.ipv4)" }');
files:
  "${out}/."
    create => "true";
  "${out}/file-$(i).conf"
    create => "true",
    perms => m("0644"),
    edit_defaults => nobackup,
    template_method => "mustache",
    edit_template => "${join(dir, 'item.mustache')}",
    template_data => mergedata("facts", "d[$(i)]");
}
`;
    await writeFile(join(dir, 'main.cf'), policy, { mode: 0o600 });
    // -K: ignore promise locks, or a second run within a minute would skip the promises
    return { cmd: 'cf-agent', argv: ['-K', '-f', join(dir, 'main.cf')] };
  },
};

const puppet: AnchorTool = {
  name: 'puppet',
  label: 'Puppet `puppet apply`',
  pkg: 'puppet',
  bin: '/usr/bin/puppet',
  version: () => `Puppet ${firstLine('puppet', ['--version'])}`,
  async prepare({ dir, out, n }) {
    await writeFile(
      join(dir, 'item.epp'),
      '<%- | String $host, String $ip, String $name, Integer $value | -%>\n# managed by stems\nhost = <%= $host %>\nip = <%= $ip %>\nname = <%= $name %>\nvalue = <%= $value %>\n',
    );
    const hash = items(n)
      .map(({ i, name, value }) => `  "${i}" => { "name" => "${name}", "value" => ${value} },`)
      .join('\n');
    const manifest = `$items = {
${hash}
}
$tmpl = file("${join(dir, 'item.epp')}")
file { "${out}": ensure => directory }
$items.each |$i, $v| {
  file { "${out}/file-\${i}.conf":
    ensure  => file,
    mode    => "0644",
    backup  => false,
    content => inline_epp($tmpl, {
      "host" => $facts["networking"]["hostname"], "ip" => $facts["networking"]["ip"],
      "name" => $v["name"], "value" => $v["value"] }),
  }
}
`;
    await writeFile(join(dir, 'site.pp'), manifest);
    return { cmd: 'puppet', argv: ['apply', '--color=false', join(dir, 'site.pp')] };
  },
};

const ansible: AnchorTool = {
  name: 'ansible',
  label: 'Ansible `ansible-playbook -c local`',
  pkg: 'ansible',
  bin: '/usr/bin/ansible-playbook',
  version: () => `Ansible ${firstLine('ansible-playbook', ['--version']).replace(/^ansible-playbook /, '')}`,
  async prepare({ dir, out, n }) {
    await writeFile(
      join(dir, 'item.j2'),
      '# managed by stems\nhost = {{ ansible_hostname }}\nip = {{ ansible_default_ipv4.address }}\nname = {{ item.name }}\nvalue = {{ item.value }}\n',
    );
    await writeFile(join(dir, 'vars.json'), JSON.stringify({ items: items(n) }));
    const play = `- hosts: localhost
  connection: local
  gather_facts: true
  vars_files: [vars.json]
  tasks:
    - ansible.builtin.file: { path: "${out}", state: directory }
    - ansible.builtin.template:
        src: item.j2
        dest: "${out}/file-{{ item.i }}.conf"
        mode: "0644"
      loop: "{{ items }}"
      loop_control: { label: "{{ item.i }}" }
`;
    await writeFile(join(dir, 'play.yml'), play);
    return {
      cmd: 'ansible-playbook',
      argv: ['-c', 'local', '-i', 'localhost,', join(dir, 'play.yml')],
      env: { ANSIBLE_LOCALHOST_WARNING: 'false', ANSIBLE_HOME: join(dir, '.ansible'), ANSIBLE_NOCOLOR: '1' },
    };
  },
};

export const ANCHORS: readonly AnchorTool[] = [cfengine, puppet, ansible];

/**
 * Installs the Debian packages of the anchors that are missing, with apt-get
 * (an `apt-get update` first only when the install fails for lack of lists).
 */
export function installMissing(tools: readonly AnchorTool[]): void {
  const missing = tools.filter((t) => !existsSync(t.bin)).map((t) => t.pkg);
  if (missing.length === 0) return;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { env, stdio: 'inherit' });
  process.stderr.write(`installing ${missing.join(', ')} with apt-get\n`);
  if (install().status === 0) return;
  if (spawnSync('apt-get', ['update'], { env, stdio: 'inherit' }).status !== 0) throw new Error('apt-get update failed');
  if (install().status !== 0) throw new Error(`apt-get install ${missing.join(' ')} failed`);
}
