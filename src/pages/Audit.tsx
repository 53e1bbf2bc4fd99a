import React, { useCallback, useEffect, useState } from 'react';
import { PluginPage, config } from '@grafana/runtime';
import { Alert, Button, LinkButton, LoadingPlaceholder, Stack, Text } from '@grafana/ui';
import { errorMessage } from '../api/client';
import type { Verdict } from '../api/wire/audit';
import { exportUrl, signoffApi } from '../components/SignOff/api';

/** Audit (Admin): whether the sign-off audit chain verifies, where it breaks, and its exports. */
export default function Audit() {
  const [verdict, setVerdict] = useState<Verdict>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const isAdmin = config.bootData?.user?.orgRole === 'Admin';

  const [tick, setTick] = useState(0);
  const verify = useCallback(() => {
    setBusy(true);
    setTick((t) => t + 1);
  }, []);
  useEffect(() => {
    if (!isAdmin) {
      return;
    }
    let live = true;
    signoffApi
      .verify()
      .then(
        (v) => {
          if (live) {
            setVerdict(v);
            setError(undefined);
          }
        },
        (err) => live && setError(errorMessage(err))
      )
      .finally(() => live && setBusy(false));
    return () => {
      live = false;
    };
  }, [isAdmin, tick]);

  return (
    <PluginPage>
      <div data-testid="audit-page">
        {!isAdmin ? (
          <Alert severity="info" title="Admins only">
            The audit trail&apos;s verification and exports are for Admins. Each incident shows its own trail.
          </Alert>
        ) : (
          <Stack direction="column" gap={2}>
            <Text color="secondary">
              Every sign-off decision (approve, reject, edit, execute and its result, refusals, gates) is one entry,
              chained by SHA-256 to the one before: altering, deleting or reordering a stored entry breaks the chain
              there.
            </Text>
            {error && (
              <Alert severity="error" title="Verification failed">
                {error}
              </Alert>
            )}
            {!verdict && !error && <LoadingPlaceholder text="Verifying the chain…" />}
            {verdict &&
              (verdict.ok ? (
                <Alert severity="success" title="The chain verifies" data-testid="audit-verdict-ok">
                  {verdict.entries} entries, each linked to the one before.
                  {verdict.head && (
                    <>
                      {' '}
                      Head: <code>{verdict.head}</code> (note it down: a chain cut short at its end is only seen against
                      a known head).
                    </>
                  )}
                </Alert>
              ) : (
                <Alert severity="error" title="The chain is broken" data-testid="audit-verdict-broken">
                  At entry {verdict.break?.seq} (position {verdict.break?.position}, {verdict.break?.kind}):{' '}
                  {verdict.break?.reason}
                </Alert>
              ))}
            <Stack direction="row" gap={1}>
              <Button icon="sync" variant="secondary" disabled={busy} onClick={verify}>
                Verify again
              </Button>
              <LinkButton icon="download-alt" variant="secondary" href={exportUrl('json')} download>
                Export JSON
              </LinkButton>
              <LinkButton icon="download-alt" variant="secondary" href={exportUrl('csv')} download>
                Export CSV
              </LinkButton>
            </Stack>
          </Stack>
        )}
      </div>
    </PluginPage>
  );
}
