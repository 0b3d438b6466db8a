import { createContext, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import type { ReactNode } from 'react';
import { userApi } from './api.js';

export interface OrgRef {
  id: string;
  name: string;
  role: 'owner' | 'admin' | 'member';
}

export interface Me {
  id: string;
  email: string;
  name: string | null;
  email_verified: boolean;
  mfa_enabled: boolean;
  orgs: OrgRef[];
}

type State = { status: 'loading' } | { status: 'signed-out'; message: string | null } | { status: 'signed-in'; me: Me };

interface SessionContext {
  state: State;
  /** Re-reads /v1/me (after a sign-in, or a change to the account or its orgs). */
  reload: () => Promise<void>;
  signOut: (message?: string) => Promise<void>;
}

const Context = createContext<SessionContext | null>(null);

/** The signed-in user of the tenant dashboard; a page load resumes the session from its cookie. */
export function SessionProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<State>({ status: 'loading' });

  const reload = useCallback(async () => {
    try {
      setState({ status: 'signed-in', me: await userApi.get<Me>('/v1/me') });
    } catch {
      if (!userApi.signedIn) setState((current) => (current.status === 'signed-out' ? current : { status: 'signed-out', message: null }));
    }
  }, []);

  const signOut = useCallback(async (message?: string) => {
    await userApi.signOut().catch(() => undefined);
    setState({ status: 'signed-out', message: message ?? null });
  }, []);

  useEffect(() => {
    userApi.onSessionEnded = (message) => setState({ status: 'signed-out', message });
    void (async () => {
      if (await userApi.refresh()) await reload();
      else setState({ status: 'signed-out', message: null });
    })();
  }, [reload]);

  const value = useMemo(() => ({ state, reload, signOut }), [state, reload, signOut]);
  return <Context.Provider value={value}>{children}</Context.Provider>;
}

export function useSession(): SessionContext {
  const context = useContext(Context);
  if (!context) throw new Error('useSession outside SessionProvider');
  return context;
}

/** The signed-in user; only pages rendered inside the signed-in layout call it. */
export function useMe(): Me {
  const { state } = useSession();
  if (state.status !== 'signed-in') throw new Error('useMe while signed out');
  return state.me;
}
