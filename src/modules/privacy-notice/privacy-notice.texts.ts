// The notice's own words: headings, the labels of legal bases and safeguards, and the rights (Arts. 7(3), 13(2),
// 14(2), 15-22, 77), in each locale the service speaks. The purposes' texts come from their translations.
import type { AutomatedDecisionException, DataSource, LegalBasis, ProvisionRequirement, TransferSafeguard } from '../purposes/purposes.schemas.js';

export const HEADINGS = [
  'controller',
  'dpo',
  'purposes',
  'legal_basis',
  'legitimate_interests',
  'data_categories',
  'recipients',
  'transfers',
  'retention',
  'provision',
  'source',
  'automated_decisions',
  'rights',
  'right_to_object',
  'complaint',
] as const;
export type Heading = (typeof HEADINGS)[number];

/** The rights listed in order; the right to object (Art. 21) is its own section, apart from these (Art. 21(4)). */
export const RIGHTS = ['access', 'rectification', 'erasure', 'restriction', 'portability', 'automated_decision', 'withdraw_consent', 'complaint'] as const;
export type Right = (typeof RIGHTS)[number];
export const RIGHT_ARTICLES: Record<Right, string> = {
  access: 'Art. 15',
  rectification: 'Art. 16',
  erasure: 'Art. 17',
  restriction: 'Art. 18',
  portability: 'Art. 20',
  automated_decision: 'Art. 22',
  withdraw_consent: 'Art. 7(3)',
  complaint: 'Art. 77',
};

export type NoticeTexts = {
  headings: Record<Heading, string>;
  legalBases: Record<LegalBasis, string>;
  safeguards: Record<TransferSafeguard, string>;
  safeguardsCopy: string;
  provision: Record<ProvisionRequirement, string>;
  sources: Record<DataSource, string>;
  exceptions: Record<AutomatedDecisionException, string>;
  rights: Record<Right, { title: string; text: string }>;
  /** Appended to the complaint right when the tenant names its authority. */
  competentAuthority: (name: string, url: string) => string;
  objection: { title: string; general: string; directMarketing: string };
};

const en: NoticeTexts = {
  headings: {
    controller: 'Controller',
    dpo: 'Data protection officer',
    purposes: 'Purposes and legal bases',
    legal_basis: 'Legal basis',
    legitimate_interests: 'Legitimate interests pursued',
    data_categories: 'Categories of personal data',
    recipients: 'Recipients',
    transfers: 'Transfers to third countries',
    retention: 'Storage period',
    provision: 'Do you have to provide the data?',
    source: 'Source of the data',
    automated_decisions: 'Automated decision-making',
    rights: 'Your rights',
    right_to_object: 'Your right to object',
    complaint: 'Complaint to a supervisory authority',
  },
  legalBases: {
    consent: 'Your consent (Art. 6(1)(a) GDPR)',
    contract: 'Performance of a contract with you, or steps at your request before entering into one (Art. 6(1)(b) GDPR)',
    legal_obligation: 'Compliance with a legal obligation (Art. 6(1)(c) GDPR)',
    vital_interests: 'Protection of vital interests (Art. 6(1)(d) GDPR)',
    public_task: 'A task carried out in the public interest or in the exercise of official authority (Art. 6(1)(e) GDPR)',
    legitimate_interests: 'Our legitimate interests or those of a third party (Art. 6(1)(f) GDPR)',
  },
  safeguards: {
    adequacy_decision: 'Adequacy decision of the European Commission (Art. 45 GDPR)',
    standard_contractual_clauses: 'Standard data protection clauses (Art. 46(2)(c)-(d) GDPR)',
    binding_corporate_rules: 'Binding corporate rules (Art. 47 GDPR)',
    code_of_conduct: 'Approved code of conduct with binding commitments of the recipient (Art. 46(2)(e) GDPR)',
    certification: 'Approved certification mechanism with binding commitments of the recipient (Art. 46(2)(f) GDPR)',
    public_authority_instrument: 'Legally binding instrument between public authorities (Art. 46(2)(a) GDPR)',
    ad_hoc_clauses: 'Contractual clauses authorised by the supervisory authority (Art. 46(3)(a) GDPR)',
    derogation_art49: 'Derogation for specific situations (Art. 49 GDPR)',
  },
  safeguardsCopy: 'You can obtain a copy of the safeguards, or learn where they are made available, by contacting us at the details above.',
  provision: {
    statutory: 'Providing the data is required by law.',
    contractual: 'Providing the data is a contractual requirement.',
    contract_prerequisite: 'Providing the data is necessary to enter into a contract.',
    none: 'Providing the data is neither a statutory nor a contractual requirement; you are not obliged to provide it.',
  },
  sources: {
    data_subject: 'Collected from you.',
    third_party: 'Obtained from a third party.',
    public_source: 'Obtained from publicly accessible sources.',
  },
  exceptions: {
    contract: 'The decision is necessary for entering into or performing a contract with you (Art. 22(2)(a) GDPR).',
    law: 'The decision is authorised by Union or Member State law that lays down suitable safeguards (Art. 22(2)(b) GDPR).',
    explicit_consent: 'The decision is based on your explicit consent (Art. 22(2)(c) GDPR).',
  },
  rights: {
    access: {
      title: 'Access',
      text: 'You may obtain confirmation as to whether we process personal data about you, a copy of it and information about the processing (Art. 15 GDPR).',
    },
    rectification: {
      title: 'Rectification',
      text: 'You may have inaccurate data about you corrected and incomplete data completed (Art. 16 GDPR).',
    },
    erasure: {
      title: 'Erasure',
      text: 'You may have data about you erased, for example when it is no longer needed or you withdraw your consent, unless an exception applies (Art. 17 GDPR).',
    },
    restriction: {
      title: 'Restriction of processing',
      text: 'You may have the processing restricted, for example while the accuracy of the data or your objection is being checked (Art. 18 GDPR).',
    },
    portability: {
      title: 'Data portability',
      text: 'Where the processing rests on your consent or on a contract and is carried out by automated means, you may receive the data you provided in a structured, commonly used and machine-readable format, and have it transmitted to another controller (Art. 20 GDPR).',
    },
    automated_decision: {
      title: 'Automated decisions',
      text: 'You have the right not to be subject to a decision based solely on automated processing, including profiling, which produces legal effects concerning you or similarly significantly affects you, unless an exception applies; where one does, you may obtain human intervention, express your point of view and contest the decision (Art. 22 GDPR).',
    },
    withdraw_consent: {
      title: 'Withdrawal of consent',
      text: 'Where the processing rests on your consent, you may withdraw it at any time, as easily as you gave it. Withdrawal does not affect the lawfulness of the processing before it (Art. 7(3) GDPR).',
    },
    complaint: {
      title: 'Complaint',
      text: 'You have the right to lodge a complaint with a supervisory authority, in particular in the Member State of your habitual residence, place of work or place of the alleged infringement (Art. 77 GDPR).',
    },
  },
  competentAuthority: (name, url) => `The authority competent for us is ${name} (${url}).`,
  objection: {
    title: 'Right to object (Art. 21 GDPR)',
    general:
      'Where we process data about you on the basis of legitimate interests or of a task carried out in the public interest, profiling included, you may object at any time on grounds relating to your particular situation. We will then stop, unless we demonstrate compelling legitimate grounds that override your interests, rights and freedoms, or the processing is needed for the establishment, exercise or defence of legal claims (Art. 21(1) GDPR).',
    directMarketing:
      'You may object at any time to the processing of data about you for direct marketing, including profiling related to it. The data will then no longer be processed for that purpose (Art. 21(2)-(3) GDPR).',
  },
};

const bg: NoticeTexts = {
  headings: {
    controller: 'Администратор',
    dpo: 'Длъжностно лице по защита на данните',
    purposes: 'Цели и правни основания',
    legal_basis: 'Правно основание',
    legitimate_interests: 'Преследвани законни интереси',
    data_categories: 'Категории лични данни',
    recipients: 'Получатели',
    transfers: 'Предаване на данни на трети държави',
    retention: 'Срок на съхранение',
    provision: 'Длъжни ли сте да предоставите данните?',
    source: 'Източник на данните',
    automated_decisions: 'Автоматизирано вземане на решения',
    rights: 'Вашите права',
    right_to_object: 'Вашето право на възражение',
    complaint: 'Жалба до надзорен орган',
  },
  legalBases: {
    consent: 'Вашето съгласие (чл. 6, параграф 1, буква „а“ от ОРЗД)',
    contract: 'Изпълнение на договор с Вас или предприемане на стъпки по Ваше искане преди сключването му (чл. 6, параграф 1, буква „б“ от ОРЗД)',
    legal_obligation: 'Спазване на законово задължение (чл. 6, параграф 1, буква „в“ от ОРЗД)',
    vital_interests: 'Защита на жизненоважни интереси (чл. 6, параграф 1, буква „г“ от ОРЗД)',
    public_task: 'Изпълнение на задача от обществен интерес или упражняване на официални правомощия (чл. 6, параграф 1, буква „д“ от ОРЗД)',
    legitimate_interests: 'Нашите законни интереси или тези на трета страна (чл. 6, параграф 1, буква „е“ от ОРЗД)',
  },
  safeguards: {
    adequacy_decision: 'Решение на Европейската комисия относно адекватното ниво на защита (чл. 45 от ОРЗД)',
    standard_contractual_clauses: 'Стандартни клаузи за защита на данните (чл. 46, параграф 2, букви „в“ и „г“ от ОРЗД)',
    binding_corporate_rules: 'Задължителни фирмени правила (чл. 47 от ОРЗД)',
    code_of_conduct: 'Одобрен кодекс за поведение с обвързващи ангажименти на получателя (чл. 46, параграф 2, буква „д“ от ОРЗД)',
    certification: 'Одобрен механизъм за сертифициране с обвързващи ангажименти на получателя (чл. 46, параграф 2, буква „е“ от ОРЗД)',
    public_authority_instrument: 'Правно обвързващ инструмент между публични органи (чл. 46, параграф 2, буква „а“ от ОРЗД)',
    ad_hoc_clauses: 'Договорни клаузи, разрешени от надзорния орган (чл. 46, параграф 3, буква „а“ от ОРЗД)',
    derogation_art49: 'Дерогация в особени случаи (чл. 49 от ОРЗД)',
  },
  safeguardsCopy: 'Можете да получите копие от гаранциите или да научите къде са предоставени, като се свържете с нас на посочените по-горе данни.',
  provision: {
    statutory: 'Предоставянето на данните е задължително по закон.',
    contractual: 'Предоставянето на данните е договорно изискване.',
    contract_prerequisite: 'Предоставянето на данните е необходимо за сключването на договор.',
    none: 'Предоставянето на данните не е законово или договорно изискване; не сте длъжни да ги предоставите.',
  },
  sources: {
    data_subject: 'Събрани от Вас.',
    third_party: 'Получени от трета страна.',
    public_source: 'Получени от публично достъпни източници.',
  },
  exceptions: {
    contract: 'Решението е необходимо за сключването или изпълнението на договор с Вас (чл. 22, параграф 2, буква „а“ от ОРЗД).',
    law: 'Решението е разрешено от правото на Съюза или на държава членка, което предвижда подходящи мерки за защита (чл. 22, параграф 2, буква „б“ от ОРЗД).',
    explicit_consent: 'Решението се основава на Вашето изрично съгласие (чл. 22, параграф 2, буква „в“ от ОРЗД).',
  },
  rights: {
    access: {
      title: 'Достъп',
      text: 'Можете да получите потвърждение дали обработваме лични данни за Вас, копие от тях и информация за обработването (чл. 15 от ОРЗД).',
    },
    rectification: {
      title: 'Коригиране',
      text: 'Можете да поискате неточните данни за Вас да бъдат коригирани, а непълните – попълнени (чл. 16 от ОРЗД).',
    },
    erasure: {
      title: 'Изтриване',
      text: 'Можете да поискате данните за Вас да бъдат изтрити, например когато вече не са необходими или оттеглите съгласието си, освен ако е налице изключение (чл. 17 от ОРЗД).',
    },
    restriction: {
      title: 'Ограничаване на обработването',
      text: 'Можете да поискате обработването да бъде ограничено, например докато се проверява точността на данните или Вашето възражение (чл. 18 от ОРЗД).',
    },
    portability: {
      title: 'Преносимост на данните',
      text: 'Когато обработването се основава на Вашето съгласие или на договор и се извършва по автоматизиран начин, можете да получите предоставените от Вас данни в структуриран, широко използван и пригоден за машинно четене формат и да поискате те да бъдат прехвърлени на друг администратор (чл. 20 от ОРЗД).',
    },
    automated_decision: {
      title: 'Автоматизирани решения',
      text: 'Имате право да не бъдете обект на решение, основаващо се единствено на автоматизирано обработване, включително профилиране, което поражда правни последствия за Вас или по подобен начин Ви засяга в значителна степен, освен ако е налице изключение; в такъв случай можете да поискате човешка намеса, да изразите гледната си точка и да оспорите решението (чл. 22 от ОРЗД).',
    },
    withdraw_consent: {
      title: 'Оттегляне на съгласието',
      text: 'Когато обработването се основава на Вашето съгласие, можете да го оттеглите по всяко време, толкова лесно, колкото сте го дали. Оттеглянето не засяга законосъобразността на обработването преди него (чл. 7, параграф 3 от ОРЗД).',
    },
    complaint: {
      title: 'Жалба',
      text: 'Имате право да подадете жалба до надзорен орган, по-специално в държавата членка на обичайното Ви местопребиваване, на мястото Ви на работа или на мястото на предполагаемото нарушение (чл. 77 от ОРЗД).',
    },
  },
  competentAuthority: (name, url) => `Компетентният за нас надзорен орган е ${name} (${url}).`,
  objection: {
    title: 'Право на възражение (чл. 21 от ОРЗД)',
    general:
      'Когато обработваме данни за Вас на основание законни интереси или задача от обществен интерес, включително профилиране, можете по всяко време да възразите по съображения, свързани с Вашата конкретна ситуация. Тогава ще прекратим обработването, освен ако докажем убедителни законови основания, които имат предимство пред Вашите интереси, права и свободи, или обработването е необходимо за установяването, упражняването или защитата на правни претенции (чл. 21, параграф 1 от ОРЗД).',
    directMarketing:
      'Можете по всяко време да възразите срещу обработването на данни за Вас за целите на директния маркетинг, включително свързаното с него профилиране. Тогава данните повече няма да се обработват за тази цел (чл. 21, параграфи 2 и 3 от ОРЗД).',
  },
};

const de: NoticeTexts = {
  headings: {
    controller: 'Verantwortlicher',
    dpo: 'Datenschutzbeauftragter',
    purposes: 'Zwecke und Rechtsgrundlagen',
    legal_basis: 'Rechtsgrundlage',
    legitimate_interests: 'Verfolgte berechtigte Interessen',
    data_categories: 'Kategorien personenbezogener Daten',
    recipients: 'Empfänger',
    transfers: 'Übermittlung in Drittländer',
    retention: 'Speicherdauer',
    provision: 'Sind Sie verpflichtet, die Daten bereitzustellen?',
    source: 'Herkunft der Daten',
    automated_decisions: 'Automatisierte Entscheidungsfindung',
    rights: 'Ihre Rechte',
    right_to_object: 'Ihr Widerspruchsrecht',
    complaint: 'Beschwerde bei einer Aufsichtsbehörde',
  },
  legalBases: {
    consent: 'Ihre Einwilligung (Art. 6 Abs. 1 lit. a DSGVO)',
    contract: 'Erfüllung eines Vertrags mit Ihnen oder vorvertragliche Maßnahmen auf Ihre Anfrage (Art. 6 Abs. 1 lit. b DSGVO)',
    legal_obligation: 'Erfüllung einer rechtlichen Verpflichtung (Art. 6 Abs. 1 lit. c DSGVO)',
    vital_interests: 'Schutz lebenswichtiger Interessen (Art. 6 Abs. 1 lit. d DSGVO)',
    public_task: 'Wahrnehmung einer Aufgabe im öffentlichen Interesse oder in Ausübung öffentlicher Gewalt (Art. 6 Abs. 1 lit. e DSGVO)',
    legitimate_interests: 'Unsere berechtigten Interessen oder die eines Dritten (Art. 6 Abs. 1 lit. f DSGVO)',
  },
  safeguards: {
    adequacy_decision: 'Angemessenheitsbeschluss der Europäischen Kommission (Art. 45 DSGVO)',
    standard_contractual_clauses: 'Standarddatenschutzklauseln (Art. 46 Abs. 2 lit. c und d DSGVO)',
    binding_corporate_rules: 'Verbindliche interne Datenschutzvorschriften (Art. 47 DSGVO)',
    code_of_conduct: 'Genehmigte Verhaltensregeln mit verbindlichen Verpflichtungen des Empfängers (Art. 46 Abs. 2 lit. e DSGVO)',
    certification: 'Genehmigter Zertifizierungsmechanismus mit verbindlichen Verpflichtungen des Empfängers (Art. 46 Abs. 2 lit. f DSGVO)',
    public_authority_instrument: 'Rechtlich bindendes Dokument zwischen Behörden (Art. 46 Abs. 2 lit. a DSGVO)',
    ad_hoc_clauses: 'Von der Aufsichtsbehörde genehmigte Vertragsklauseln (Art. 46 Abs. 3 lit. a DSGVO)',
    derogation_art49: 'Ausnahme für bestimmte Fälle (Art. 49 DSGVO)',
  },
  safeguardsCopy: 'Eine Kopie der Garantien oder die Angabe, wo sie verfügbar sind, erhalten Sie über die oben genannten Kontaktdaten.',
  provision: {
    statutory: 'Die Bereitstellung der Daten ist gesetzlich vorgeschrieben.',
    contractual: 'Die Bereitstellung der Daten ist vertraglich vorgeschrieben.',
    contract_prerequisite: 'Die Bereitstellung der Daten ist für einen Vertragsabschluss erforderlich.',
    none: 'Die Bereitstellung der Daten ist weder gesetzlich noch vertraglich vorgeschrieben; Sie sind nicht verpflichtet, die Daten bereitzustellen.',
  },
  sources: {
    data_subject: 'Bei Ihnen erhoben.',
    third_party: 'Von Dritten erhalten.',
    public_source: 'Aus öffentlich zugänglichen Quellen.',
  },
  exceptions: {
    contract: 'Die Entscheidung ist für den Abschluss oder die Erfüllung eines Vertrags mit Ihnen erforderlich (Art. 22 Abs. 2 lit. a DSGVO).',
    law: 'Die Entscheidung ist aufgrund von Rechtsvorschriften der Union oder der Mitgliedstaaten zulässig, die angemessene Schutzmaßnahmen enthalten (Art. 22 Abs. 2 lit. b DSGVO).',
    explicit_consent: 'Die Entscheidung beruht auf Ihrer ausdrücklichen Einwilligung (Art. 22 Abs. 2 lit. c DSGVO).',
  },
  rights: {
    access: {
      title: 'Auskunft',
      text: 'Sie können eine Bestätigung darüber verlangen, ob wir Sie betreffende personenbezogene Daten verarbeiten, sowie eine Kopie dieser Daten und Informationen über die Verarbeitung (Art. 15 DSGVO).',
    },
    rectification: {
      title: 'Berichtigung',
      text: 'Sie können die Berichtigung unrichtiger und die Vervollständigung unvollständiger Daten verlangen (Art. 16 DSGVO).',
    },
    erasure: {
      title: 'Löschung',
      text: 'Sie können die Löschung Ihrer Daten verlangen, etwa wenn sie nicht mehr benötigt werden oder Sie Ihre Einwilligung widerrufen, sofern keine Ausnahme greift (Art. 17 DSGVO).',
    },
    restriction: {
      title: 'Einschränkung der Verarbeitung',
      text: 'Sie können die Einschränkung der Verarbeitung verlangen, etwa solange die Richtigkeit der Daten oder Ihr Widerspruch geprüft wird (Art. 18 DSGVO).',
    },
    portability: {
      title: 'Datenübertragbarkeit',
      text: 'Beruht die Verarbeitung auf Ihrer Einwilligung oder auf einem Vertrag und erfolgt sie automatisiert, können Sie die von Ihnen bereitgestellten Daten in einem strukturierten, gängigen und maschinenlesbaren Format erhalten und an einen anderen Verantwortlichen übermitteln lassen (Art. 20 DSGVO).',
    },
    automated_decision: {
      title: 'Automatisierte Entscheidungen',
      text: 'Sie haben das Recht, nicht einer ausschließlich auf einer automatisierten Verarbeitung – einschließlich Profiling – beruhenden Entscheidung unterworfen zu werden, die Ihnen gegenüber rechtliche Wirkung entfaltet oder Sie in ähnlicher Weise erheblich beeinträchtigt, sofern keine Ausnahme greift; greift eine, können Sie das Eingreifen einer Person erwirken, Ihren Standpunkt darlegen und die Entscheidung anfechten (Art. 22 DSGVO).',
    },
    withdraw_consent: {
      title: 'Widerruf der Einwilligung',
      text: 'Beruht die Verarbeitung auf Ihrer Einwilligung, können Sie diese jederzeit so einfach widerrufen, wie Sie sie erteilt haben. Der Widerruf berührt nicht die Rechtmäßigkeit der bis dahin erfolgten Verarbeitung (Art. 7 Abs. 3 DSGVO).',
    },
    complaint: {
      title: 'Beschwerde',
      text: 'Sie haben das Recht auf Beschwerde bei einer Aufsichtsbehörde, insbesondere in dem Mitgliedstaat Ihres gewöhnlichen Aufenthaltsorts, Ihres Arbeitsplatzes oder des Orts des mutmaßlichen Verstoßes (Art. 77 DSGVO).',
    },
  },
  competentAuthority: (name, url) => `Die für uns zuständige Aufsichtsbehörde ist ${name} (${url}).`,
  objection: {
    title: 'Widerspruchsrecht (Art. 21 DSGVO)',
    general:
      'Verarbeiten wir Ihre Daten auf Grundlage berechtigter Interessen oder zur Wahrnehmung einer Aufgabe im öffentlichen Interesse, einschließlich Profiling, können Sie aus Gründen, die sich aus Ihrer besonderen Situation ergeben, jederzeit widersprechen. Wir verarbeiten die Daten dann nicht mehr, es sei denn, wir können zwingende schutzwürdige Gründe für die Verarbeitung nachweisen, die Ihre Interessen, Rechte und Freiheiten überwiegen, oder die Verarbeitung dient der Geltendmachung, Ausübung oder Verteidigung von Rechtsansprüchen (Art. 21 Abs. 1 DSGVO).',
    directMarketing:
      'Sie können der Verarbeitung Ihrer Daten zum Zwecke der Direktwerbung, einschließlich eines damit verbundenen Profilings, jederzeit widersprechen. Die Daten werden dann nicht mehr für diese Zwecke verarbeitet (Art. 21 Abs. 2 und 3 DSGVO).',
  },
};

export const NOTICE_TEXTS: Record<string, NoticeTexts> = { en, bg, de };
export const NOTICE_LOCALES = Object.keys(NOTICE_TEXTS);

/** The first of `candidates` (each also tried as its bare language) that the notice has texts for; else en. */
export function noticeLocale(candidates: string[]): string {
  for (const c of candidates) {
    if (NOTICE_TEXTS[c]) return c;
    const language = c.split('-')[0]!;
    if (NOTICE_TEXTS[language]) return language;
  }
  return 'en';
}
