import type { PeerCertificate } from 'node:tls';

/**
 * The identities a peer certificate asserts: its subject CN and its DNS and URI subject
 * alternative names. A node's certificate must name its node id in one of them.
 */
export function certificateIdentities(cert: PeerCertificate | null | undefined): string[] {
  if (cert === null || cert === undefined || Object.keys(cert).length === 0) return [];
  const ids = new Set<string>();
  const cn = (cert.subject as Record<string, string | string[] | undefined> | undefined)?.CN;
  for (const c of Array.isArray(cn) ? cn : cn === undefined ? [] : [cn]) ids.add(c);
  for (const part of (cert.subjectaltname ?? '').split(',')) {
    const m = /^\s*(DNS|URI):(.+)$/.exec(part);
    if (m?.[2] !== undefined) ids.add(m[2].trim());
  }
  return [...ids].sort();
}
