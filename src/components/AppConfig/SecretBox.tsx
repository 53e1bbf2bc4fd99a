import React from 'react';
import { Button, Input, SecretInput, Stack } from '@grafana/ui';

type Props = React.ComponentProps<typeof SecretInput>;

/**
 * @grafana/ui's SecretInput, except that a disabled one also disables its Reset button (SecretInput
 * leaves it enabled), so that a read-only page offers no way to clear a secret.
 */
export function SecretBox(props: Props) {
  const { isConfigured, onReset, ...rest } = props;
  if (!(isConfigured && rest.disabled)) {
    return <SecretInput {...props} />;
  }
  return (
    <Stack>
      <Input {...rest} type="text" disabled value="configured" />
      <Button variant="secondary" disabled>
        Reset
      </Button>
    </Stack>
  );
}
