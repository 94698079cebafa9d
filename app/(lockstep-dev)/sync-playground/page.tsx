import { getServerSession } from 'next-auth';
import { redirect } from 'next/navigation';
import { authOptions } from '@/lib/auth/options';
import { Playground } from './playground';

export const dynamic = 'force-dynamic';
export const metadata = { title: 'Sync playground · Lockstep' };

/**
 * A development page for the sync client: the signed-in user's local database, its status and a
 * few live queries. The e2e tests (e2e/client-*.spec.ts) and the browser benchmark drive it.
 */
export default async function SyncPlaygroundPage() {
  const session = await getServerSession(authOptions);
  const userId = session?.user?.id;
  if (!userId) redirect('/signin?callbackUrl=/sync-playground');
  return <Playground userId={userId} />;
}
