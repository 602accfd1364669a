/** Lambda entry: the API-key rotation function (providers from its configuration). */
import { apikeyFunction } from '../handlers/catalogue/apikey.js';
import { createRotationHandler, wiringOptions } from '../handlers/createHandler.js';

export const handler = createRotationHandler(wiringOptions(apikeyFunction));
