'use server';

import { getServerSession } from 'next-auth';
import { authOptions } from '@/lib/auth/options';
import { appPool } from '@/lib/db/client';
import type { UploadResult } from '@/lib/sync/protocol';
import { storagePool } from '@/lib/sync/server/storage-pool';
import { createUploader } from '@/lib/sync/server/upload';
import { uploadHandlers } from './upload-handlers';

const upload = createUploader({ source: appPool, storage: storagePool, tables: uploadHandlers });

/** The upload queue's server action: a batch of local transactions per call (docs/writes.md), for the signed-in user. */
export async function uploadTransaction(input: unknown): Promise<UploadResult> {
  const session = await getServerSession(authOptions);
  return upload(session?.user?.id ? { id: session.user.id } : null, input);
}
