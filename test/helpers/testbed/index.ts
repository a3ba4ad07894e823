/**
 * The project's systemd-nspawn testbed: real Debian 12 nodes with systemd as
 * PID 1 on this machine, for end-to-end tests of the agent as a systemd unit.
 * See docs/testbed.md.
 */
export { debianMirrorFrom, readAptSources, type SourceFile } from './apt-mirror.js';
export type { ExecResult } from './exec.js';
export type { Bind, NodeExecOptions, TestbedNode } from './node.js';
export { DEFAULT_BASE_DIR, ensureRootfs, type Rootfs, type RootfsOptions } from './rootfs.js';
export { type BootOptions, bootNodes, hostLeftovers, MAX_NODES, type Testbed, teardown } from './testbed.js';
