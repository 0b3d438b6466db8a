import type { ComponentProps } from 'react';
import { userApi } from '../api.js';
import { ConfirmButton } from '../ui.js';

/** Asks first, then DELETEs `path` as the signed-in user and lets the caller reload what listed it. */
export function DeleteButton({ path, onDeleted, ...confirm }: { path: string; onDeleted: () => void } & Omit<ComponentProps<typeof ConfirmButton>, 'onConfirm'>) {
  return (
    <ConfirmButton
      {...confirm}
      onConfirm={async () => {
        await userApi.json('DELETE', path);
        onDeleted();
      }}
    />
  );
}
