import { ConfigError } from '../../errors'

export type Sdk = typeof import('@aws-sdk/client-dynamodb')

export const SDK_PACKAGE = '@aws-sdk/client-dynamodb'

let sdk: Sdk | undefined

/**
 * The AWS SDK, loaded only when a DynamoDB store is made: cookie-store apps never install or load
 * it (it is an optional peer dependency). `setting` names what chose DynamoDB, for the error.
 */
export function loadSdk (setting = 'table'): Sdk {
  if (sdk !== undefined) return sdk
  try {
    sdk = require(SDK_PACKAGE) as Sdk
  } catch (error) {
    if ((error as { code?: string }).code !== 'MODULE_NOT_FOUND') throw error
    throw new ConfigError(setting, `the DynamoDB store needs the AWS SDK's DynamoDB client, which is not installed: npm install ${SDK_PACKAGE}`)
  }
  return sdk
}
