import type { KeyService } from './key-service.ts';

/** The name of the admin key a first start generates (and `pictor keys admin-reset` replaces). */
export const ADMIN_KEY_NAME = 'admin';

/**
 * Makes sure an admin can get in. With `PICTOR_ADMIN_KEY` set, that key is created if it does not
 * exist (automation). Otherwise, when there are no keys at all (a first start), an admin key is
 * created and its secret returned, to be printed once.
 */
export async function bootstrapAdminKey(
  keys: KeyService,
  adminKey: string,
): Promise<string | undefined> {
  const admin = { scopes: ['generate', 'admin'] as const, rateLimit: 0, maxJobs: 0 };
  if (adminKey !== '') {
    if (await keys.bySecret(adminKey)) return undefined;
    try {
      await keys.create({ ...admin, name: 'admin (PICTOR_ADMIN_KEY)' }, { secret: adminKey });
    } catch (error) {
      // Another node of a cluster starting at the same time created it first.
      if (!(await keys.bySecret(adminKey))) throw error;
    }
    return undefined;
  }
  if ((await keys.count()) > 0) return undefined;
  const { secret } = await keys.create({ ...admin, name: ADMIN_KEY_NAME });
  return secret;
}
