import { SignInForm } from './sign-in-form';

export const metadata = { title: 'Sign in · Lockstep' };

/** Email and password sign-in (next-auth credentials). The demo accounts are listed in README.md. */
export default async function SignInPage({ searchParams }: { searchParams: Promise<{ callbackUrl?: string; error?: string }> }) {
  const { callbackUrl, error } = await searchParams;
  // Only same-site paths: never bounce a signed-in user to another origin.
  const next = callbackUrl?.startsWith('/') && !callbackUrl.startsWith('//') ? callbackUrl : '/';
  return (
    <main>
      <h1>Sign in</h1>
      <SignInForm callbackUrl={next} initialError={error ? 'Sign-in failed. Check the email and password.' : null} />
      <p className="muted">Demo accounts: alice@example.com / alice-password, bob@example.com / bob-password.</p>
    </main>
  );
}
