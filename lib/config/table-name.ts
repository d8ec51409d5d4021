/** What DynamoDB accepts as a table name. */
export const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/

export const TABLE_NAME_EXPECTED = 'a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -)'
