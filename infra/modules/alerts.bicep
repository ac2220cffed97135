// Two metric alerts on the AKS cluster's load balancer, one time series per node (BackendIPAddress = the node's
// private IP, which is how the responder finds the node):
//   1. UsedSnatPorts above a percentage of the ports each node is allocated (early warning);
//   2. SnatConnectionCount with ConnectionState = failed above a small number (exhaustion is happening).
// Both call the action group when there is one; without it they still fire in the portal.

param tags object
param namePrefix string
param loadBalancerId string

@description('Nodes in the backend pool of the load balancer (all node pools), for the AKS default port allocation.')
@minValue(1)
@maxValue(1000)
param aksNodeCount int

@description('Outbound ports allocated per node (allocatedOutboundPorts of the cluster); 0 = the AKS default for aksNodeCount.')
@minValue(0)
@maxValue(64000)
param allocatedOutboundPorts int = 0

@description('Fire when a node uses more than this percentage of its allocated SNAT ports.')
@minValue(1)
@maxValue(100)
param usedSnatPortsPercent int = 80

@description('Fire when a node has more than this many failed SNAT connections in 5 minutes.')
@minValue(0)
param failedConnectionsThreshold int = 0

@description('Action group to notify; empty = none (the alerts still fire in the portal).')
param actionGroupId string = ''

// AKS default allocated outbound ports per node by backend pool size, used when the cluster's
// allocatedOutboundPorts is 0. Same table as lib/analysis/recommendations.ts DEFAULT_PORTS_BY_POOL_SIZE (the test
// compares them).
var defaultPortsByPoolSize = [
  {
    maxNodes: 50
    ports: 1024
  }
  {
    maxNodes: 100
    ports: 512
  }
  {
    maxNodes: 200
    ports: 256
  }
  {
    maxNodes: 400
    ports: 128
  }
  {
    maxNodes: 800
    ports: 64
  }
  {
    maxNodes: 1000
    ports: 32
  }
]

var defaultAllocatedPorts = first(filter(defaultPortsByPoolSize, row => aksNodeCount <= row.maxNodes)).ports
var allocatedPorts = allocatedOutboundPorts > 0 ? allocatedOutboundPorts : defaultAllocatedPorts
var usedSnatPortsThreshold = max(1, allocatedPorts * usedSnatPortsPercent / 100)

var actionGroupActions = [
  {
    actionGroupId: actionGroupId
  }
]
var actions = empty(actionGroupId) ? [] : actionGroupActions

resource usedSnatPorts 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: '${namePrefix}-used-snat-ports'
  location: 'global'
  tags: tags
  properties: {
    description: 'A node uses more than ${usedSnatPortsPercent}% of its ${allocatedPorts} allocated SNAT ports (snat-responder investigates).'
    severity: 2
    enabled: true
    scopes: [
      loadBalancerId
    ]
    targetResourceType: 'Microsoft.Network/loadBalancers'
    evaluationFrequency: 'PT1M'
    windowSize: 'PT5M'
    autoMitigate: true
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'UsedSnatPortsHigh'
          metricNamespace: 'Microsoft.Network/loadBalancers'
          metricName: 'UsedSnatPorts'
          // Average is the metric's documented aggregation; Maximum would fire on single-minute spikes.
          timeAggregation: 'Average'
          operator: 'GreaterThan'
          threshold: usedSnatPortsThreshold
          dimensions: [
            {
              name: 'BackendIPAddress'
              operator: 'Include'
              values: [
                '*'
              ]
            }
            // TCP only: the ports that run out are TCP's (one per destination IP and port), and averaging the UDP
            // series in would dilute the value.
            {
              name: 'ProtocolType'
              operator: 'Include'
              values: [
                'TCP'
              ]
            }
          ]
        }
      ]
    }
    actions: actions
  }
}

resource failedSnatConnections 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: '${namePrefix}-failed-snat-connections'
  location: 'global'
  tags: tags
  properties: {
    description: 'A node has failed SNAT connections (more than ${failedConnectionsThreshold} in 5 minutes): SNAT port exhaustion (snat-responder investigates).'
    severity: 1
    enabled: true
    scopes: [
      loadBalancerId
    ]
    targetResourceType: 'Microsoft.Network/loadBalancers'
    evaluationFrequency: 'PT1M'
    windowSize: 'PT5M'
    autoMitigate: true
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'FailedSnatConnections'
          metricNamespace: 'Microsoft.Network/loadBalancers'
          metricName: 'SnatConnectionCount'
          timeAggregation: 'Total'
          operator: 'GreaterThan'
          threshold: failedConnectionsThreshold
          dimensions: [
            {
              name: 'ConnectionState'
              operator: 'Include'
              values: [
                'failed'
              ]
            }
            {
              name: 'BackendIPAddress'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
        }
      ]
    }
    actions: actions
  }
}

output allocatedPorts int = allocatedPorts
output usedSnatPortsThreshold int = usedSnatPortsThreshold
