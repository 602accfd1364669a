/** Lambda entry: the scheduled heal function, with every engine of the catalogue. */
import { allRotators } from '../handlers/catalogue/index.js';
import { createHealHandler } from '../handlers/healFunction.js';

export const handler = createHealHandler({ rotators: allRotators });
