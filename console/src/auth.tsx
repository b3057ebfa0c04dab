import { useQuery, useQueryClient } from "@tanstack/react-query";
import { createContext, useContext, useEffect, useState, type ReactNode } from "react";
import { api, session } from "./api/client";
import { keys } from "./api/keys";
import { paths } from "./api/paths";
import type { Me, Role } from "./api/types";

interface Auth {
  signedIn: boolean;
  /** Whether a new tab has had the time to take another tab's sign-in (signedIn is final then). */
  settled: boolean;
  me: Me | undefined;
  /** Resolves to an mfa token when the account asks for a second step (see signInWithCode). */
  signIn(email: string, password: string): Promise<{ mfaToken: string } | null>;
  signInWithCode(mfaToken: string, code: { code: string } | { recovery_code: string }): Promise<void>;
  signOut(): Promise<void>;
  roleIn(ws: string): Role | undefined;
  /** Ask again who the caller is: memberships arrive through events, a moment after the action. */
  reloadMe(): void;
}

const AuthContext = createContext<Auth | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const queries = useQueryClient();
  const [signedIn, setSignedIn] = useState(session.isSignedIn());
  const [settled, setSettled] = useState(session.isSignedIn());
  useEffect(
    () =>
      session.onSignedOut(() => {
        setSignedIn(false);
        queries.clear();
      }),
    [queries],
  );
  useEffect(() => session.onSignedIn(() => setSignedIn(true)), []);
  useEffect(() => {
    let mounted = true;
    void session.settled().then(() => {
      if (!mounted) return;
      setSignedIn(session.isSignedIn());
      setSettled(true);
    });
    return () => {
      mounted = false;
    };
  }, []);
  const me = useQuery({ queryKey: keys.me(), queryFn: () => api.get<Me>(paths.me()), enabled: signedIn, staleTime: 30_000 });
  const value: Auth = {
    signedIn,
    settled,
    me: me.data,
    async signIn(email, password) {
      const second = await session.signIn(email, password);
      if (second) return second;
      queries.clear();
      setSignedIn(true);
      return null;
    },
    async signInWithCode(mfaToken, code) {
      await session.signInWithCode(mfaToken, code);
      queries.clear();
      setSignedIn(true);
    },
    async signOut() {
      await session.signOut();
      setSignedIn(false);
      queries.clear();
    },
    reloadMe: () => void queries.invalidateQueries({ queryKey: keys.me() }),
    roleIn: (ws) => me.data?.memberships.find((m) => m.workspace_id === ws && m.status === "active")?.role,
  };
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): Auth {
  const auth = useContext(AuthContext);
  if (!auth) throw new Error("useAuth outside AuthProvider");
  return auth;
}
