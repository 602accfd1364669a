/** The Lambda entry point for PostgreSQL and Aurora PostgreSQL secrets. */
import { postgresRotator } from '../rotators/postgres/index.js';
import { createRotationHandler } from './createHandler.js';
import { rdsDiscovery } from './rds.js';

export const handler = createRotationHandler({ rotators: [postgresRotator], discovery: rdsDiscovery() });
