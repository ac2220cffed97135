// The Functions host's storage account: AzureWebJobsStorage (host leases, timers, keys), the Durable Functions task
// hub (queues, tables, blobs) and the Flex Consumption deployment container. Identity-only: shared keys are off, so
// no connection string or account key exists to leak; the host reaches it through the user-assigned identity
// (AzureWebJobsStorage__accountName / __credential / __clientId, function-app.bicep).

param name string
param location string
param tags object

@description('Blob container the Flex Consumption platform reads the deployed package from.')
param deploymentContainerName string

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    allowBlobPublicAccess: false
    supportsHttpsTrafficOnly: true
    allowCrossTenantReplication: false
    // Public endpoint, identity-only: Flex Consumption without VNet integration reaches storage over it.
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

output name string = account.name
output id string = account.id
