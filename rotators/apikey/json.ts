/** A JSON value, as found in a provider description's body template or a preset. */
export type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json };
