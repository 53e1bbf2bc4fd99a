import { initialSecrets, secureFieldsAfterSave, secureJsonDataToSend } from './secrets';

describe('secrets', () => {
  it('sends typed secrets and resets, never untouched ones', () => {
    const s = initialSecrets({ lokiAuth: true, tempoAuth: true });
    s.prometheusAuth.value = 'tok';
    s.tempoAuth = { configured: false, value: '' };
    expect(secureJsonDataToSend(s, new Set(['tempoAuth']))).toEqual({ prometheusAuth: 'tok', tempoAuth: '' });
    expect(secureFieldsAfterSave(s)).toMatchObject({
      prometheusAuth: true,
      lokiAuth: true,
      tempoAuth: false,
      ollamaAuth: false,
    });
  });
});
