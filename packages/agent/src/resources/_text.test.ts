import { unifiedDiff } from '@stems/shared';
import { describe, expect, it } from 'vitest';
import { creation, textDiff } from './_text.js';

describe('textDiff', () => {
  it('prints a new file exactly as the shared unified diff does', () => {
    for (const text of ['a\nb\n', 'a\nb', 'x', 'x\n', '\n', '\n\n', 'a\n\nb\n', '']) {
      expect(creation(text, '/etc/p')).toBe(unifiedDiff('', text, { path: '/etc/p' }));
    }
  });

  it('summarises binary and very large content instead of diffing it', () => {
    expect(textDiff(Buffer.from([0, 1, 2]), Buffer.from('text'), '/bin/x')).toContain('binary content differs (3 → 4 bytes)');
    expect(textDiff(undefined, Buffer.alloc(300 * 1024, 'a'), '/big')).toContain('too large to diff');
  });
});
