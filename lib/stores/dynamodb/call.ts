import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { storeFailure } from './errors'

/** A DynamoDB call: bounded in time, its failure a typed error (a failed condition on UpdateItem is the caller's to read). */
export type Send = <T>(operation: string, command: unknown) => Promise<T>

export function sender (client: DynamoDBClient, table: () => string | Promise<string>, timeoutMs: number): Send {
  return async <T>(operation: string, command: unknown): Promise<T> => {
    try {
      return await (client.send as (command: unknown, options: { abortSignal: AbortSignal }) => Promise<T>)(command, { abortSignal: AbortSignal.timeout(timeoutMs) })
    } catch (error) {
      if (operation === 'UpdateItem' && (error as { name?: string }).name === 'ConditionalCheckFailedException') throw error
      throw storeFailure(error, operation, await table())
    }
  }
}
