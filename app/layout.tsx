import type { Metadata } from 'next';
import type { ReactNode } from 'react';
import { RegisterServiceWorker } from './_offline/register-service-worker';
import './globals.css';

export const metadata: Metadata = {
  title: 'Lockstep',
  description: 'Local-first lists on Postgres, kept in sync by Lockstep.',
};

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        {children}
        <RegisterServiceWorker />
      </body>
    </html>
  );
}
