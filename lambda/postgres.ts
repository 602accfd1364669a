/** Lambda entry: the PostgreSQL and Aurora PostgreSQL rotation function (its bundle carries only pg). */
import { postgresFunction } from '../handlers/catalogue/postgres.js';
import { createRotationHandler, wiringOptions } from '../handlers/createHandler.js';

export const handler = createRotationHandler(wiringOptions(postgresFunction));
