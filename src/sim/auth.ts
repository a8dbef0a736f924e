import type { Rng } from '../core/index.js';
import type { AuthOp, Permission } from '../auth/ops.js';

/**
 * The auth feature's script (SimOptions.authP, README "Authorization"): who each client is, and
 * what the admin client asks of the log. Through the log, as any client's commands: first the
 * setup (an admin user `root`, restricted users with grants on some keys, authentication on),
 * then grants and revokes drawn at random while the restricted users write, so some writes are
 * proposed while permitted and commit after a revoke, and some the other way round. A tenth of
 * the admin's changes are sent as a restricted user (refused at apply), and authentication is
 * sometimes turned off and on again (everyone may write while it is off).
 *
 * Every draw comes from the feature's own stream, so a seed without the feature never draws here.
 */

/** The user of the first client and of the admin client: admin on the whole key space, never revoked. */
export const rootUser = 'root';
const adminRole = 'admin';
/** Restricted users, shared round robin by the clients after the first. */
const restrictedUsers = ['u1', 'u2'] as const;
/** Roles the admin changes; never `admin`, so root keeps what it needs (and liveness its writes). */
const roles = ['r0', 'r1', 'r2'] as const;
/** Grants only below admin: a restricted user never becomes an administrator by chance. */
const grantable: readonly Permission[] = ['read', 'write'];
/** A password's salt and hash as the gateway would put them in the log (the simulator never logs in). */
const secret = { salt: 'c2ltLXNhbHQ=', hash: 'c2ltLWhhc2gtbm90LWEtcmVhbC1vbmU=' } as const;
const tokenKey = 'c2ltLXRva2VuLWtleS0zMi1ieXRlcy1vZi1pdC0hISE=';

/** Shares of the admin's random changes, in percent (the rest turns authentication on). */
const share = { userRoles: 30, grants: 30, roles: 8, users: 8, asRestricted: 10, disable: 4 } as const;

export interface AdminCommand {
  readonly user: string;
  readonly op: AuthOp;
}

export class AuthScript {
  private readonly setup: AdminCommand[];
  private readonly setupSent = new Set<AdminCommand>();
  private readonly prefixes: readonly string[];

  constructor(readonly rng: Rng, keys: number) {
    const root = (op: AuthOp): AdminCommand => ({ user: rootUser, op });
    this.setup = [
      root({ op: 'user-add', name: rootUser, ...secret }),
      root({ op: 'role-add', role: adminRole }),
      root({ op: 'role-grant', role: adminRole, prefix: '', perm: 'admin' }),
      root({ op: 'user-grant', name: rootUser, role: adminRole }),
      ...restrictedUsers.map((name) => root({ op: 'user-add', name, ...secret })),
      root({ op: 'role-add', role: 'r0' }),
      root({ op: 'role-grant', role: 'r0', prefix: 'k0', perm: 'write' }),
      root({ op: 'user-grant', name: 'u1', role: 'r0' }),
      root({ op: 'auth-enable', tokenKey }),
      // The rest after authentication is on (u2 may write nothing until a grant comes).
      root({ op: 'role-add', role: 'r1' }),
      root({ op: 'role-grant', role: 'r1', prefix: 'k1', perm: 'write' }),
      root({ op: 'user-grant', name: 'u2', role: 'r1' }),
    ];
    // One key's prefix per key (up to three), every key ('k'), and the whole key space ('').
    this.prefixes = [...Array.from({ length: Math.min(keys, 3) }, (_, i) => `k${i}`), 'k', ''];
  }

  /** Client 0 writes as root (so liveness never hangs on grants); the others as restricted users. */
  userOf(client: number): string {
    return client === 0 ? rootUser : restrictedUsers[(client - 1) % restrictedUsers.length] as string;
  }

  /** Whether the setup is still under way (the admin then sends its commands back to back). */
  get inSetup(): boolean {
    return this.setup.length > 0;
  }

  /**
   * A setup command ended unanswered (its client timed out): it may never have applied, and
   * without it authentication might never come on, so it is asked again (under a new seq; if the
   * first did apply, the second is refused as a conflict and changes nothing).
   */
  unanswered(cmd: AdminCommand): void {
    if (this.setupSent.has(cmd)) this.setup.unshift(cmd);
  }

  /** The admin client's next command: the setup in order, then random changes. */
  next(): AdminCommand {
    const first = this.setup.shift();
    if (first !== undefined) {
      this.setupSent.add(first);
      return first;
    }
    const rng = this.rng;
    const user = rng.pick(restrictedUsers);
    const role = rng.pick(roles);
    const root = (op: AuthOp): AdminCommand => ({ user: rootUser, op });
    let roll = rng.int(0, 99);
    if ((roll -= share.userRoles) < 0) return root({ op: rng.chance(0.5) ? 'user-grant' : 'user-revoke', name: user, role });
    if ((roll -= share.grants) < 0) {
      const prefix = rng.pick(this.prefixes);
      return root(rng.chance(0.5) ? { op: 'role-grant', role, prefix, perm: rng.pick(grantable) } : { op: 'role-revoke', role, prefix });
    }
    if ((roll -= share.roles) < 0) return root(rng.chance(0.5) ? { op: 'role-delete', role } : { op: 'role-add', role });
    if ((roll -= share.users) < 0) return root(rng.chance(0.5) ? { op: 'user-delete', name: user } : { op: 'user-add', name: user, ...secret });
    // A restricted user tries to widen its own grants: refused while authentication is on.
    if ((roll -= share.asRestricted) < 0) return { user, op: { op: 'role-grant', role, prefix: '', perm: 'write' } };
    if (roll < share.disable) return root({ op: 'auth-disable' });
    return root({ op: 'auth-enable', tokenKey });
  }
}
