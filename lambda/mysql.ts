/** Lambda entry: the MySQL / MariaDB rotation function (its bundle carries only mysql2). */
import { mysqlFunction } from '../handlers/catalogue/mysql.js';
import { createRotationHandler, wiringOptions } from '../handlers/createHandler.js';

export const handler = createRotationHandler(wiringOptions(mysqlFunction));
