import { getServerSession } from 'next-auth';
import { redirect } from 'next/navigation';
import { authOptions } from '@/lib/auth/options';
import { DemoApp } from './demo-app';

// Per user: the signed-in user's id picks their local database.
export const dynamic = 'force-dynamic';

/**
 * The demo: collaborative todo lists that work offline. The server only decides who is signed in;
 * everything else is read from and written to the local database in the browser. The service
 * worker (public/sw.js) keeps this page's last copy, so a reload with no network still opens it.
 */
export default async function HomePage() {
  const session = await getServerSession(authOptions);
  const user = session?.user;
  if (!user?.id) redirect('/signin');
  return <DemoApp user={{ id: user.id, email: user.email ?? '', name: user.name ?? null }} />;
}
