import { INSTALLED_AGENT } from './layout.js';

/** What varies in the agent's unit. */
export interface AgentUnitOptions {
  /** Absolute path of the installed `meridian` on the target system. */
  readonly exec: string;
  /** The agent config's path on the target system (default `/etc/meridian/agent.json`). */
  readonly config?: string;
  /** Grant CAP_NET_BIND_SERVICE (the config's api or mesh port is below 1024). */
  readonly privilegedPort: boolean;
}

/**
 * The hardened `meridian-agent.service` unit, byte for byte the text of the install contract
 * (the Terraform `vm-agent` module renders the same text in HCL: change both together). No
 * `MemoryDenyWriteExecute=yes`: V8's JIT needs writable executable memory.
 */
export function renderAgentUnit(options: AgentUnitOptions): string {
  const capabilities = options.privilegedPort ? 'CAP_NET_BIND_SERVICE' : '';
  const lines = [
    '[Unit]',
    'Description=Meridian agent (federation gateway mesh)',
    'Documentation=https://github.com/meridian-mesh/meridian#install-an-agent-on-a-vm',
    'Wants=network-online.target',
    'After=network-online.target',
    'StartLimitIntervalSec=300',
    'StartLimitBurst=5',
    '',
    '[Service]',
    'Type=simple',
    'User=meridian',
    'Group=meridian',
    `ExecStart=${options.exec} agent run --config ${options.config ?? INSTALLED_AGENT.configFile}`,
    'ExecReload=/bin/kill -HUP $MAINPID',
    'KillSignal=SIGTERM',
    'TimeoutStopSec=45',
    'Restart=on-failure',
    'RestartSec=2',
    'WorkingDirectory=/var/lib/meridian',
    'StateDirectory=meridian',
    'StateDirectoryMode=0700',
    'ConfigurationDirectory=meridian',
    'ConfigurationDirectoryMode=0755',
    'Environment=NODE_ENV=production',
    'NoNewPrivileges=yes',
    'ProtectSystem=strict',
    'ProtectHome=yes',
    'PrivateTmp=yes',
    'PrivateDevices=yes',
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectKernelLogs=yes',
    'ProtectControlGroups=yes',
    'ProtectClock=yes',
    'ProtectHostname=yes',
    'RestrictNamespaces=yes',
    'RestrictRealtime=yes',
    'RestrictSUIDSGID=yes',
    'LockPersonality=yes',
    'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX',
    'SystemCallArchitectures=native',
    `CapabilityBoundingSet=${capabilities}`,
    `AmbientCapabilities=${capabilities}`,
    'LimitNOFILE=65536',
    'StandardOutput=journal',
    'StandardError=journal',
    'SyslogIdentifier=meridian-agent',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
  ];
  return `${lines.join('\n')}\n`;
}
