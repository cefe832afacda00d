/** A site of the local demo federation: a failure and network domain with its region and platform. */
export interface DemoSite {
  readonly name: string;
  readonly region: string;
  readonly zone: string;
  readonly platform: 'kubernetes' | 'vm' | 'bare-metal';
}

export const DEMO_TRUST_DOMAIN = 'demo.meridian.internal';

/** Three sites on three platforms, as a platform team's mixed fleet would have. */
export const DEMO_SITES: readonly DemoSite[] = [
  { name: 'eu-k8s', region: 'eu-west', zone: 'eu-west-1a', platform: 'kubernetes' },
  { name: 'us-vm', region: 'us-east', zone: 'us-east-1b', platform: 'vm' },
  { name: 'onprem', region: 'eu-central', zone: 'rack-3', platform: 'bare-metal' },
];
