// Personal tokens: 32 random bytes (base64url) shown once; the database keeps their sha256 only.
import { createHash, randomBytes } from 'node:crypto';
import type { Sql } from './db';

export const ROLES = ['reader', 'contributor', 'curator', 'owner'] as const;
export type Role = (typeof ROLES)[number];

export const isRole = (s: string): s is Role => (ROLES as readonly string[]).includes(s);

/** Each role can do what the roles before it in ROLES can. */
export const roleAtLeast = (have: Role, need: Role): boolean => ROLES.indexOf(have) >= ROLES.indexOf(need);

export const hashToken = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

const TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

/** Creates a token for `name` with `role` (limited to `datanets` when given) and returns it. */
export async function createToken(db: Sql, name: string, role: string, datanets?: string[]): Promise<string> {
  if (!TOKEN_NAME.test(name))
    throw new Error(`not a contributor name: '${name}' (letters, digits, . _ @ -; at most 64)`);
  if (!isRole(role)) throw new Error(`--role must be one of ${ROLES.join(', ')}, not '${role}'`);
  const token = `mfh_${randomBytes(32).toString('base64url')}`;
  await db.query('INSERT INTO tokens (name, role, hash, datanets) VALUES ($1, $2, $3, $4)', [
    name,
    role,
    hashToken(token),
    datanets && datanets.length > 0 ? datanets : null,
  ]);
  return token;
}
