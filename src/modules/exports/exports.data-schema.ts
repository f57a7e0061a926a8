// The JSON Schema (2020-12) of an export package's data.json, shipped in the package as data.schema.json so the
// person, or the controller receiving the data under Art. 20(1)-(2), can read the structure without asking us.

/** The version of the package layout; a change that breaks a reader gets a new number. */
export const PACKAGE_FORMAT = 'rightful-export/1';

const record = {
  type: 'object',
  description: 'One record: field names and their values as the source system holds them',
} as const;

export const DATA_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'urn:rightful:export:1:data.schema.json',
  title: 'Copy of the personal data of one data subject',
  description:
    'A copy of the personal data a controller processes about one person, as given in answer to a request for access (Art. 15 GDPR) or for data portability (Art. 20 GDPR). A portability copy holds only the data the person provided, observed data included.',
  type: 'object',
  required: ['format', 'kind', 'request_id', 'subject_id', 'generated_at', 'rightful', 'systems'],
  additionalProperties: false,
  properties: {
    format: { const: PACKAGE_FORMAT, description: 'The version of this layout' },
    kind: {
      enum: ['access', 'portability'],
      description: 'access: a copy of all the data (Art. 15(3)); portability: the data the person provided (Art. 20(1))',
    },
    request_id: { type: 'string', format: 'uuid', description: 'The request this copy answers' },
    subject_id: { type: 'string', format: 'uuid', description: "The controller's identifier of the person" },
    generated_at: { type: 'string', format: 'date-time', description: 'When the copy was made' },
    rightful: {
      type: 'object',
      description:
        "The consent and rights records kept by the controller's consent service: identifiers, consents and the ledger of consent events (with their hashes), objections, restriction, requests with their history, and the purposes with the version each decision was shown. Each property is one category: a list of records, a single record, or a value.",
      additionalProperties: true,
    },
    systems: {
      type: 'array',
      description: "The parts of the connected systems that hold data about the person, in the order they were gathered. A part withheld whole (Art. 15(4)) does not appear; manifest.json lists it.",
      items: { $ref: '#/$defs/system' },
    },
  },
  $defs: {
    system: {
      type: 'object',
      required: ['system_id', 'system_name', 'recipient', 'processor', 'data'],
      additionalProperties: false,
      properties: {
        system_id: { type: ['string', 'null'], description: "The controller's identifier of the system; null when not recorded" },
        system_name: { type: 'string', description: 'The name of the system (a CRM, a mailing tool, a payment provider)' },
        recipient: { type: 'boolean', description: 'The data was disclosed to a third party through this system (Art. 4(9))' },
        processor: { type: 'boolean', description: 'The system is run by a processor on behalf of the controller (Art. 28)' },
        data: {
          type: 'object',
          description: "The system's data, one property per category of data: a list of records or a single record. Categories withheld (Art. 15(4)) are left out; manifest.json lists them.",
          additionalProperties: { $ref: '#/$defs/category' },
        },
      },
    },
    category: {
      description: 'One category of data: a list of records, or a single record',
      anyOf: [{ type: 'array', items: record }, record],
    },
  },
} as const;
