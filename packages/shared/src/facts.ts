import { z } from 'zod';

/** Facts a node reports about itself (DESIGN §4). Absent hardware is an empty list. */
export const Facts = z.object({
  hostname: z.string(),
  fqdn: z.string(),
  os: z.object({
    distro: z.string(),
    release: z.string(),
    codename: z.string(),
    kernel: z.string(),
    arch: z.string(),
  }),
  cpu: z.object({ brand: z.string(), cores: z.number().int().nonnegative(), physicalCores: z.number().int().nonnegative() }),
  memory: z.object({ totalBytes: z.number().nonnegative() }),
  disks: z.array(z.object({ device: z.string(), type: z.string(), sizeBytes: z.number().nonnegative(), model: z.string() })),
  filesystems: z.array(
    z.object({
      mount: z.string(),
      fs: z.string(),
      type: z.string(),
      sizeBytes: z.number().nonnegative(),
      usedBytes: z.number().nonnegative(),
    }),
  ),
  network: z.array(z.object({ iface: z.string(), ipv4: z.string(), mac: z.string() })),
  primaryIp: z.string(),
  gpus: z.array(z.object({ vendor: z.string(), model: z.string(), vramMiB: z.number().nonnegative() })),
  virtual: z.boolean(),
  custom: z.record(z.string(), z.unknown()),
});
export type Facts = z.infer<typeof Facts>;
