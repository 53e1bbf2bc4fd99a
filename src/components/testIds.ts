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
  },
  canaries: {
    container: 'data-testid canaries-container',
  },
};
