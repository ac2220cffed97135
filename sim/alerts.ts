/**
 * Azure Monitor alert payloads as an action group's webhook sends them (common alert schema, FORMATS.md section 10),
 * for the demo and the tests: a metric alert on the AKS load balancer's UsedSnatPorts, split by BackendIPAddress.
 */
import { randomUUID } from 'node:crypto';

export interface SnatAlertOptions {
  /** The node's private IP: the BackendIPAddress dimension. */
  readonly nodeIp: string;
  readonly firedAt: Date;
  readonly subscriptionId?: string;
  readonly nodeResourceGroup?: string;
  readonly usedPorts?: number;
  readonly threshold?: number;
  readonly monitorCondition?: 'Fired' | 'Resolved';
}

const FIVE_MINUTES = 5 * 60 * 1000;

export function snatAlert(options: SnatAlertOptions) {
  const subscription = options.subscriptionId ?? '6c1f4a2e-8d3b-4f5a-9c7e-2b1d0e9f8a7c';
  const group = (options.nodeResourceGroup ?? 'MC_rg-shop-prod_aks-shop-prod_westeurope').toLowerCase();
  const lb = `/subscriptions/${subscription}/resourcegroups/${group}/providers/microsoft.network/loadbalancers/kubernetes`;
  const rule = 'aks-shop-prod-used-snat-ports';
  const windowEnd = new Date(Math.floor(options.firedAt.getTime() / 60_000) * 60_000);
  return {
    schemaId: 'azureMonitorCommonAlertSchema',
    data: {
      essentials: {
        alertId: `/subscriptions/${subscription}/providers/Microsoft.AlertsManagement/alerts/${randomUUID()}`,
        alertRule: rule,
        severity: 'Sev2',
        signalType: 'Metric',
        monitorCondition: options.monitorCondition ?? 'Fired',
        monitoringService: 'Platform',
        alertTargetIDs: [lb],
        configurationItems: ['kubernetes'],
        originAlertId: `${subscription}_rg-shop-prod_microsoft.insights_metricAlerts_${rule}_-1`,
        firedDateTime: options.firedAt.toISOString(),
        description: 'A node is running out of SNAT ports',
        essentialsVersion: '1.0',
        alertContextVersion: '1.0',
      },
      alertContext: {
        properties: null,
        conditionType: 'SingleResourceMultipleMetricCriteria',
        condition: {
          windowSize: 'PT5M',
          allOf: [
            {
              metricName: 'UsedSnatPorts',
              metricNamespace: 'Microsoft.Network/loadBalancers',
              operator: 'GreaterThan',
              threshold: String(options.threshold ?? 900),
              timeAggregation: 'Average',
              dimensions: [
                { name: 'FrontendIPAddress', value: '20.31.42.53' },
                { name: 'BackendIPAddress', value: options.nodeIp },
                { name: 'ProtocolType', value: 'TCP' },
              ],
              metricValue: options.usedPorts ?? 1010,
            },
          ],
          windowStartTime: new Date(windowEnd.getTime() - FIVE_MINUTES).toISOString(),
          windowEndTime: windowEnd.toISOString(),
        },
      },
      customProperties: null,
    },
  };
}
