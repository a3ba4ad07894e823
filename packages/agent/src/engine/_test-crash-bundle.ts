import type { BundlePayload } from '@stems/shared';
import { payloadBuilder, resource } from './_test-payload.js';

/** Files in the crash-safety bundle. @default 500 */
export const CRASH_FILES = 500;
export type Variant = 'old' | 'new';

/** What file i holds in a variant: text and mode differ between the two for every file. */
export function expectedFile(variant: Variant, i: number): { path: string; text: string; mode: number } {
  const filler = `${variant} filler line for file ${i}\n`.repeat(8 + (i % 24));
  return {
    path: `/etc/crash/d${i % 10}/f${i}.conf`,
    text: `variant=${variant} index=${i} host=director\n${filler}`,
    mode: variant === 'old' ? 0o644 : 0o640,
  };
}

/** The bundle of one variant: CRASH_FILES templated files over ten directories, one template. */
export function crashPayload(variant: Variant): BundlePayload {
  const b = payloadBuilder();
  const body = b.body('variant={{vars.variant}} index={{vars.i}} host={{facts.hostname}}\n{{vars.filler}}', {
    render: true,
    name: 'crash.hbs',
  });
  const resources = [];
  for (let i = 0; i < CRASH_FILES; i++) {
    const { path, mode } = expectedFile(variant, i);
    const filler = `${variant} filler line for file ${i}\n`.repeat(8 + (i % 24));
    resources.push(
      resource('file', { id: `file:${path}`, path, body, sensitive: false, mode: `0${mode.toString(8)}`, vars: { variant, i, filler } }),
    );
  }
  return b.payload(resources, { vars: { domain: 'colab.lan' } });
}
