import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { INSTALLED_AGENT, SYSUSERS_LINE, installedConfig, renderAgentUnit } from '../../../../agent/install/index.js';

/** The unit of the install contract (issue 11), byte for byte; the Terraform vm-agent module renders the same. */
const CONTRACT_UNIT = `[Unit]
Description=Meridian agent (federation gateway mesh)
Documentation=https://github.com/meridian-mesh/meridian#install-an-agent-on-a-vm
Wants=network-online.target
After=network-online.target
StartLimitIntervalSec=300
StartLimitBurst=5

[Service]
Type=simple
User=meridian
Group=meridian
ExecStart=/usr/local/bin/meridian agent run --config /etc/meridian/agent.json
ExecReload=/bin/kill -HUP $MAINPID
KillSignal=SIGTERM
TimeoutStopSec=45
Restart=on-failure
RestartSec=2
WorkingDirectory=/var/lib/meridian
StateDirectory=meridian
StateDirectoryMode=0700
ConfigurationDirectory=meridian
ConfigurationDirectoryMode=0755
Environment=NODE_ENV=production
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
SystemCallArchitectures=native
CapabilityBoundingSet=
AmbientCapabilities=
LimitNOFILE=65536
StandardOutput=journal
StandardError=journal
SyslogIdentifier=meridian-agent

[Install]
WantedBy=multi-user.target
`;

const operatorConfig = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  site: 'east',
  region: 'us-east',
  zone: 'us-east-1a',
  platform: 'vm',
  node: 'vm-1',
  nats: { url: 'tls://10.0.0.2:4222', trustDomain: 'acme.internal' },
  ...extra,
});

describe('the agent unit', () => {
  it('is the contract text with the default binary and config', () => {
    assert.equal(renderAgentUnit({ exec: INSTALLED_AGENT.bin, privilegedPort: false }), CONTRACT_UNIT);
  });

  it('grants CAP_NET_BIND_SERVICE, and changes nothing else, when a port below 1024 is configured', () => {
    const expected = CONTRACT_UNIT.replace('CapabilityBoundingSet=\n', 'CapabilityBoundingSet=CAP_NET_BIND_SERVICE\n').replace('AmbientCapabilities=\n', 'AmbientCapabilities=CAP_NET_BIND_SERVICE\n');
    assert.equal(renderAgentUnit({ exec: INSTALLED_AGENT.bin, privilegedPort: true }), expected);
  });

  it('runs the given binary with the installed config', () => {
    assert.match(renderAgentUnit({ exec: '/usr/bin/meridian', privilegedPort: false }), /^ExecStart=\/usr\/bin\/meridian agent run --config \/etc\/meridian\/agent\.json$/m);
  });

  it('has the sysusers line of the contract', () => {
    assert.equal(SYSUSERS_LINE, 'u meridian - "Meridian agent" /var/lib/meridian');
  });
});

describe('the installed agent config', () => {
  it('points credentials and the data dir at the installed layout when the config names none', () => {
    const installed = JSON.parse(installedConfig(operatorConfig(), 'agent.json').text) as Record<string, unknown>;
    assert.deepEqual(installed.nats, {
      url: 'tls://10.0.0.2:4222',
      trustDomain: 'acme.internal',
      keyFile: '/var/lib/meridian/credentials/agent.key',
      certFile: '/var/lib/meridian/credentials/agent.crt',
      bundleFile: '/var/lib/meridian/credentials/bundle.pem',
      passwordFile: '/var/lib/meridian/credentials/nats-password',
    });
    assert.equal(installed.dataDir, '/var/lib/meridian/agent');
    // Only what was missing is added: schema defaults stay implicit, as the operator wrote it.
    assert.equal(installed.api, undefined);
  });

  it('keeps the paths the config already sets', () => {
    const config = operatorConfig({ dataDir: '/srv/agent', nats: { url: 'nats://127.0.0.1:4222', trustDomain: 'acme.internal', keyFile: '/srv/k.pem' } });
    const installed = JSON.parse(installedConfig(config, 'agent.json').text) as { dataDir: string; nats: Record<string, string> };
    assert.equal(installed.dataDir, '/srv/agent');
    assert.equal(installed.nats.keyFile, '/srv/k.pem');
    assert.equal(installed.nats.certFile, '/var/lib/meridian/credentials/agent.crt');
  });

  it('says whether the api or mesh port needs CAP_NET_BIND_SERVICE (port 0, any free port, does not)', () => {
    assert.equal(installedConfig(operatorConfig(), 'a.json').privilegedPort, false);
    assert.equal(installedConfig(operatorConfig({ api: { port: 80 } }), 'a.json').privilegedPort, true);
    assert.equal(installedConfig(operatorConfig({ mesh: { inboundPort: 443 } }), 'a.json').privilegedPort, true);
    assert.equal(installedConfig(operatorConfig({ api: { port: 0 }, mesh: { inboundPort: 15443 } }), 'a.json').privilegedPort, false);
  });

  it('is validated with the agent schema: errors name the file and the field', () => {
    assert.throws(() => installedConfig(operatorConfig({ heartbeat: 'soon', api: { port: 70000 } }), '/tmp/agent.json'), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'MERIDIAN_ERR_CONFIG_INVALID');
      assert.match(error.message, /^\/tmp\/agent\.json: invalid configuration: /);
      assert.match(error.message, /\/api\/port/);
      assert.match(error.message, /\/heartbeat/);
      return true;
    });
    assert.throws(() => installedConfig([], 'list.json'), /list\.json: invalid configuration: \/: must be a JSON object/);
  });
});
