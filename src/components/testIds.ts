export const testIds = {
  appConfig: {
    form: 'data-testid ac-form',
    save: 'data-testid ac-save',
    test: 'data-testid ac-test',
    healthReport: 'data-testid ac-health-report',
    healthLine: 'data-testid ac-health-line',
    errors: 'data-testid ac-errors',
    readOnly: 'data-testid ac-read-only',
  },
  incidents: {
    container: 'data-testid incidents-container',
    alertsNow: 'data-testid incidents-alerts-now',
    alertsTable: 'data-testid incidents-alerts-table',
    alertRow: 'data-testid incidents-alert-row',
    alertsEmpty: 'data-testid incidents-alerts-empty',
    alertsNotice: 'data-testid incidents-alerts-notice',
    alertsStreamError: 'data-testid incidents-alerts-stream-error',
    alertsUpdated: 'data-testid incidents-alerts-updated',
  },
  canaries: {
    container: 'data-testid canaries-container',
  },
};
