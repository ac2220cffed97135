// The reports account: report.json / report.md / report.html / capture.log per investigation, plus the intermediate
// evidence the app keeps under <container>/_evidence/. A separate account from the host storage, so the identity's
// broad host-storage roles (Blob Data Owner, queues, tables) do not reach the reports, and the reports' lifecycle
// rules cannot touch the task hub. Identity-only like the host account; read links are user-delegation SAS (signed
// with a key the identity obtains; role Storage Blob Delegator, roles-app.bicep), never account-key SAS.

param name string
param location string
param tags object

@description('The reports container (SNAT_REPORT_CONTAINER; the app default is reports).')
param containerName string = 'reports'

@description('Delete reports this many days after they were written; 0 keeps them until deleted by hand.')
@minValue(0)
param reportRetentionDays int = 0

// Intermediate evidence (raw capture pieces the app keeps while it builds a report) is worth nothing after a week:
// the longest read link the app signs lives 7 days (SNAT_REPORT_LINK_TTL_MINUTES <= 10080).
var evidenceRetentionDays = 7

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
    // Public endpoint, identity-only: the report links are opened from browsers (Teams card -> SAS link).
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

resource reportsContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: containerName
  properties: {
    publicAccess: 'None'
  }
}

// A lifecycle prefix match is "<container>/<blob name prefix>".
var evidenceRule = {
  name: 'delete-evidence'
  enabled: true
  type: 'Lifecycle'
  definition: {
    filters: {
      blobTypes: [
        'blockBlob'
        'appendBlob'
      ]
      prefixMatch: [
        '${containerName}/_evidence/'
      ]
    }
    actions: {
      baseBlob: {
        delete: {
          daysAfterModificationGreaterThan: evidenceRetentionDays
        }
      }
    }
  }
}

var reportsRule = {
  name: 'delete-reports'
  enabled: true
  type: 'Lifecycle'
  definition: {
    filters: {
      blobTypes: [
        'blockBlob'
        'appendBlob'
      ]
      prefixMatch: [
        '${containerName}/'
      ]
    }
    actions: {
      baseBlob: {
        delete: {
          daysAfterModificationGreaterThan: reportRetentionDays
        }
      }
    }
  }
}

resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: concat([evidenceRule], reportRetentionDays > 0 ? [reportsRule] : [])
    }
  }
  dependsOn: [
    reportsContainer
  ]
}

output name string = account.name
output id string = account.id
output containerName string = reportsContainer.name
