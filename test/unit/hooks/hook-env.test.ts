import { describe, expect, it } from 'vitest';
import { buildHookEnvironment, isRemovedVariable } from '../../../agent/hooks/hook-env.js';

const base = {
  lifecycleEvent: 'AfterInstall',
  deploymentId: 'd-ABCDEFGHI',
  applicationName: 'TestApplication',
  deploymentGroupName: 'TestDeploymentGroup',
  deploymentGroupId: 'foo',
};

describe('buildHookEnvironment', () => {
  it('sets the five deployment variables and the revision env (docs/reference.md section 10.4 case 6)', () => {
    const env = buildHookEnvironment({
      ...base,
      baseEnv: {},
      revisionEnv: { TEST_ENVIRONMENT_VARIABLE: 'ONE', ANOTHER_ENV_VARIABLE: 'TWO' },
    });
    expect(env).toEqual({
      LIFECYCLE_EVENT: 'AfterInstall',
      DEPLOYMENT_ID: 'd-ABCDEFGHI',
      APPLICATION_NAME: 'TestApplication',
      DEPLOYMENT_GROUP_NAME: 'TestDeploymentGroup',
      DEPLOYMENT_GROUP_ID: 'foo',
      TEST_ENVIRONMENT_VARIABLE: 'ONE',
      ANOTHER_ENV_VARIABLE: 'TWO',
    });
  });

  it('inherits the agent environment minus credentials, tokens and systemd variables', () => {
    const env = buildHookEnvironment({
      ...base,
      baseEnv: {
        PATH: '/usr/bin',
        HOME: '/root',
        AWS_REGION: 'us-east-1',
        AWS_DEFAULT_REGION: 'us-east-1',
        AWS_PROFILE: 'p',
        AWS_ACCESS_KEY_ID: 'x',
        AWS_SECRET_ACCESS_KEY: 'x',
        AWS_SESSION_TOKEN: 'x',
        AWS_SECURITY_TOKEN: 'x',
        AWS_ACCESS_KEY: 'x',
        AWS_SECRET_KEY: 'x',
        AWS_CREDENTIAL_FILE: 'x',
        AWS_CREDENTIALS_FILE: 'x',
        AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: 'x',
        AWS_CONTAINER_CREDENTIALS_FULL_URI: 'x',
        AWS_CONTAINER_AUTHORIZATION_TOKEN: 'x',
        AWS_WEB_IDENTITY_TOKEN_FILE: 'x',
        CODEDEPLOY_GITHUB_TOKEN: 'x',
        CODEDEPLOY_DB_PASSWORD: 'x',
        aws_secret_access_key: 'x',
        NOTIFY_SOCKET: '/run/systemd/notify',
        WATCHDOG_USEC: '1',
        WATCHDOG_PID: '1',
        LISTEN_FDS: '1',
        MY_APP_TOKEN: 'x',
        GITHUB_TOKEN: 'x',
        GH_TOKEN: 'x',
        AWS_SHARED_CREDENTIALS_FILE: 'x',
        AWS_CONFIG_FILE: 'x',
        AWS_DEFAULT_PROFILE: 'x',
        AWS_ROLE_ARN: 'x',
        PGPASSWORD: 'x',
        CODEDEPLOY_HOOK_RUN_ID: 'x',
        AWS_HOST_IDENTIFIER: 'arn:aws:iam::1:user/h',
        HTTPS_PROXY: 'http://proxy:3128',
        TOKENIZERS_PARALLELISM: 'false',
        UNDEF: undefined,
      },
    });
    expect(Object.keys(env).sort()).toEqual(
      [
        'PATH',
        'HOME',
        'AWS_REGION',
        'AWS_DEFAULT_REGION',
        'AWS_HOST_IDENTIFIER',
        'HTTPS_PROXY',
        'TOKENIZERS_PARALLELISM',
        'LIFECYCLE_EVENT',
        'DEPLOYMENT_ID',
        'APPLICATION_NAME',
        'DEPLOYMENT_GROUP_NAME',
        'DEPLOYMENT_GROUP_ID',
      ].sort(),
    );
  });

  it('unsets revision variables given as undefined, even when inherited', () => {
    const env = buildHookEnvironment({
      ...base,
      baseEnv: { BUNDLE_VERSION: 'stale', BUNDLE_KEY: 'stale' },
      revisionEnv: { BUNDLE_BUCKET: 'b', BUNDLE_KEY: 'k', BUNDLE_VERSION: undefined, BUNDLE_ETAG: 'e' },
    });
    expect(env.BUNDLE_KEY).toBe('k');
    expect('BUNDLE_VERSION' in env).toBe(false);
    expect(env.BUNDLE_ETAG).toBe('e');
  });

  it('lets the deployment variables win over inherited ones', () => {
    const env = buildHookEnvironment({ ...base, baseEnv: { LIFECYCLE_EVENT: 'Old', DEPLOYMENT_ID: 'd-OLD' } });
    expect(env.LIFECYCLE_EVENT).toBe('AfterInstall');
    expect(env.DEPLOYMENT_ID).toBe('d-ABCDEFGHI');
  });

  it.each([
    ['AWS_SECRET_ACCESS_KEY', true],
    ['AWS_ACCESS_KEY_ID', true],
    ['CODEDEPLOY_API_SECRET', true],
    ['WATCHDOG_USEC', true],
    ['AWS_PROFILE', true],
    ['github_token', true],
    ['NPM_TOKEN', true],
    ['VAULT_TOKEN', true],
    ['DB_PASSWORD', true],
    ['MYSQL_PWD', true],
    ['STRIPE_API_KEY', true],
    ['SSH_PRIVATE_KEY', true],
    ['DOCKER_AUTH_CREDENTIALS', true],
    ['SECRET_SAUCE', true],
    ['AWS_REGION', false],
    ['AWS_DEFAULT_REGION', false],
    ['AWS_CA_BUNDLE', false],
    ['PWD', false],
    ['KEYBOARD_LAYOUT', false],
    ['PATH', false],
  ])('isRemovedVariable(%s) = %s', (name, removed) => {
    expect(isRemovedVariable(name)).toBe(removed);
  });
});
