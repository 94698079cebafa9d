import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from './password';

describe('password hashing', () => {
  it('verifies the right password and rejects others', async () => {
    const hash = await hashPassword('correct horse');
    expect(hash).not.toContain('correct horse');
    expect(await verifyPassword('correct horse', hash)).toBe(true);
    expect(await verifyPassword('correct horsf', hash)).toBe(false);
  });

  it('salts each hash', async () => {
    expect(await hashPassword('same')).not.toBe(await hashPassword('same'));
  });

  it('never matches a malformed or tampered hash', async () => {
    const hash = await hashPassword('pw');
    expect(await verifyPassword('pw', 'plaintext')).toBe(false);
    expect(await verifyPassword('pw', hash.replace(/^scrypt/, 'bcrypt'))).toBe(false);
    expect(await verifyPassword('pw', 'scrypt$99999999$8$1$AAAA$AAAA')).toBe(false);
    const parts = hash.split('$');
    parts[5] = Buffer.alloc(32).toString('base64');
    expect(await verifyPassword('pw', parts.join('$'))).toBe(false);
  });
});
