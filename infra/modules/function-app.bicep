// The Function App on the Flex Consumption plan (FC1), Node 20, running as the user-assigned identity. Every
// setting the responder reads is listed in lib/config/settings.ts (SETTINGS); test/infra/template.test.ts checks that
// the required ones are set here and that every SNAT_* name below is one of them.
//
// Not set on purpose: FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION and WEBSITE_* content settings (Flex
// Consumption takes the runtime from functionAppConfig and refuses them), and any storage connection string.

param name string
param planName string
param location string
param tags object

@description('The azd service name in azure.yaml; azd finds the app to deploy to by the azd-service-name tag.')
param serviceName string

param identityId string
param identityClientId string

param hostStorageAccountName string
param deploymentContainerName string
param reportsStorageAccountName string
param reportsContainerName string
param applicationInsightsConnectionString string

param taskHubName string
param aksClusterId string
param loadBalancerId string

@allowed([
  'entra'
  'local-account'
])
param aksAccess string

param captureNamespace string
param captureImage string
param privateCidrs string

@secure()
param teamsWebhookUrl string
@secure()
param webhookUrl string
@secure()
param webhookSecret string
@secure()
param alertSecret string

@description('More app settings (any other SETTINGS name, e.g. SNAT_NATGW_CLUSTER_MAP); the settings above win.')
param additionalAppSettings object = {}

@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

// The one load balancer the alerts watch -> its cluster; lib/azure/cluster.ts then needs no subscription-wide
// managedClusters/list (which the identity is not granted).
var lbClusterMap = {
  '${loadBalancerId}': aksClusterId
}

var appSettings = {
  // Functions host + Durable Functions task hub storage, through the user-assigned identity (no connection string).
  AzureWebJobsStorage__accountName: hostStorageAccountName
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  // Telemetry, Entra-authenticated (the component has local auth disabled).
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  // DefaultAzureCredential (ARM, Blob, the AKS Entra token) picks the user-assigned identity by this client id.
  AZURE_CLIENT_ID: identityClientId
  // The responder's own settings (lib/config/settings.ts).
  SNAT_TASK_HUB: taskHubName
  SNAT_REPORT_STORAGE: 'https://${reportsStorageAccountName}.blob.${environment().suffixes.storage}'
  SNAT_REPORT_CONTAINER: reportsContainerName
  SNAT_LB_CLUSTER_MAP: string(lbClusterMap)
  SNAT_ALLOWED_CLUSTER_IDS: aksClusterId
  SNAT_AKS_ACCESS: aksAccess
  SNAT_CAPTURE_NAMESPACE: captureNamespace
  SNAT_CAPTURE_IMAGE: captureImage
  SNAT_PRIVATE_CIDRS: privateCidrs
  // Secrets: empty means unset. Pass Key Vault references (@Microsoft.KeyVault(SecretUri=...)) rather than values
  // to keep them out of the app's configuration (infra/README.md).
  SNAT_TEAMS_WEBHOOK_URL: teamsWebhookUrl
  SNAT_WEBHOOK_URL: webhookUrl
  SNAT_WEBHOOK_SECRET: webhookSecret
  SNAT_ALERT_SECRET: alertSecret
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': serviceName
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Key Vault references in app settings resolve with the same identity.
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: 'https://${hostStorageAccountName}.blob.${environment().suffixes.storage}/${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'node'
        version: '20'
      }
    }
  }

  resource settings 'config' = {
    name: 'appsettings'
    properties: union(additionalAppSettings, appSettings)
  }
}

output name string = functionApp.name
output id string = functionApp.id
output defaultHostName string = functionApp.properties.defaultHostName
