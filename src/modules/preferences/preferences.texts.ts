// The reference preference page's own words in each language it speaks (en, bg, de). Purpose titles and
// descriptions come from the register through GET /v1/me; legal bases from the privacy notice's texts.
import { NOTICE_TEXTS } from '../privacy-notice/privacy-notice.texts.js';
import type { LegalBasis } from '../purposes/purposes.schemas.js';
import { RESTRICTION_GROUND_KEYS, type RestrictionGround } from '../rights-requests/rights-requests.catalogue.js';

export const PAGE_LOCALES = ['en', 'bg', 'de'] as const;
export type PageLocale = (typeof PAGE_LOCALES)[number];

/** Request types the page can file, each with a short explanation of the right behind it. */
export const PAGE_REQUEST_TYPES = ['access', 'rectification', 'erasure', 'restriction', 'portability', 'objection', 'automated_decision', 'information'] as const;
export type PageRequestType = (typeof PAGE_REQUEST_TYPES)[number];

/** What a rectification may correct, as the connected systems know it (the API's correction categories). */
export const RECTIFICATION_CATEGORIES = ['contact', 'address', 'identity', 'other'] as const;
export type RectificationCategory = (typeof RECTIFICATION_CATEGORIES)[number];
/** The Art. 18(1) grounds of a restriction, (a) to (d), as the rights-request catalogue names them. */
export { RESTRICTION_GROUND_KEYS };
export type RestrictionGroundKey = RestrictionGround;

export const FLASHES = [
  'granted',
  'withdrawn',
  'objected_marketing',
  'objected_purpose',
  'objected_processing',
  'objected_automated',
  'request_filed',
  'erasure_filed',
  'code_sent',
  'code_invalid',
  'code_required',
  'code_unavailable',
  'no_email',
  'too_soon',
  'stale',
  'not_ready',
  'gone',
  'failed',
] as const;
export type Flash = (typeof FLASHES)[number];
/** Flashes that report a problem rather than a success (shown in the same status region, styled apart). */
export const ERROR_FLASHES: ReadonlySet<Flash> = new Set(['code_invalid', 'code_required', 'code_unavailable', 'no_email', 'too_soon', 'stale', 'not_ready', 'gone', 'failed']);

export type PageTexts = {
  languageName: string;
  languages: string;
  skip: string;
  title: string;
  intro: (org: string) => string;
  purposes: { heading: string; intro: string; none: string; basis: string; categories: string; retention: string; state: string; notRecorded: string; automated: string };
  consent: { granted: string; withdrawn: string; none: string; grant: string; withdraw: string; notConsent: string; withdrawNote: string };
  object: {
    heading: string;
    intro: string;
    marketingHeading: string;
    marketingText: string;
    marketingAll: string;
    marketingAllDone: string;
    marketingPurpose: string;
    marketingPurposeDone: string;
    processingHeading: string;
    processingText: string;
    grounds: string;
    processingButton: string;
    processingDone: string;
    automatedHeading: string;
    automatedText: string;
    automatedButton: string;
    automatedDone: string;
  };
  rights: {
    heading: string;
    intro: string;
    newHeading: string;
    typeLegend: string;
    details: string;
    detailsHint: string;
    submit: string;
    types: Record<PageRequestType, { title: string; text: string }>;
  };
  rectification: { category: string; categories: Record<RectificationCategory, string>; field: string; fieldHint: string; value: string; submit: string };
  restriction: { legend: string; grounds: Record<RestrictionGroundKey, string>; submit: string };
  erasure: {
    heading: string;
    text: string;
    step1: string;
    sendCode: string;
    step2: string;
    code: string;
    codeHint: string;
    submit: string;
    confirm: string;
  };
  requests: {
    heading: string;
    none: string;
    caption: string;
    type: string;
    status: string;
    received: string;
    due: string;
    extended: string;
    statuses: Record<string, string>;
  };
  exports: {
    heading: string;
    none: string;
    item: (type: string, date: string) => string;
    deleted: string;
    sendCode: string;
    code: string;
    download: string;
    codeHint: string;
  };
  flash: Record<Flash, string>;
  codeSentTo: (to: string) => string;
  error: {
    missingTitle: string;
    missing: string;
    expiredTitle: string;
    expired: string;
    invalidTitle: string;
    invalid: string;
    malformedTitle: string;
    malformed: string;
    csrfTitle: string;
    csrf: string;
    badFormTitle: string;
    badForm: string;
    busyTitle: string;
    busy: string;
    brokenTitle: string;
    broken: string;
    back: string;
  };
  legalBases: Record<LegalBasis, string>;
  footer: string;
};

const en: PageTexts = {
  languageName: 'English',
  languages: 'Language',
  skip: 'Skip to the content',
  title: 'Your privacy choices',
  intro: (org) => `Here you can see how ${org} uses your personal data, change your consent, object, and exercise your rights under the GDPR.`,
  purposes: {
    heading: 'How we use your data',
    intro: 'Each purpose we process personal data for, its legal basis and, where it rests on your consent, your current choice.',
    none: 'We have not registered any purposes yet.',
    basis: 'Legal basis',
    categories: 'Data used',
    retention: 'Kept for',
    state: 'Your choice',
    notRecorded: 'not stated',
    automated: 'This purpose involves automated decisions or profiling.',
  },
  consent: {
    granted: 'You have given consent',
    withdrawn: 'You have withdrawn consent',
    none: 'You have not given consent',
    grant: 'Give consent',
    withdraw: 'Withdraw consent',
    notConsent: 'This purpose does not rest on consent.',
    withdrawNote: 'You can withdraw your consent at any time, as easily as you gave it. Withdrawing does not affect processing before it.',
  },
  object: {
    heading: 'Your right to object',
    intro: 'You have the right to object at any time (Art. 21 GDPR).',
    marketingHeading: 'Direct marketing',
    marketingText: 'You can object to the use of your data for direct marketing, including profiling for it. We then stop at once, without asking for reasons.',
    marketingAll: 'Object to all direct marketing',
    marketingAllDone: 'You have objected to all direct marketing.',
    marketingPurpose: 'Object',
    marketingPurposeDone: 'You have objected.',
    processingHeading: 'Processing based on our interests or a public task',
    processingText: 'On grounds relating to your particular situation, you can object to processing based on our legitimate interests or a public task. We then stop unless we show compelling legitimate grounds, and tell you our answer.',
    grounds: 'Your grounds (optional)',
    processingButton: 'Object to this processing',
    processingDone: 'You have objected; we are assessing it.',
    automatedHeading: 'Automated decisions',
    automatedText: 'You can object to decisions about you based solely on automated processing, including profiling, and ask for a person to review them (Art. 22 GDPR).',
    automatedButton: 'Object to automated decisions',
    automatedDone: 'You have objected to automated decisions.',
  },
  rights: {
    heading: 'Your rights',
    intro: 'You can make a request at any time. We answer within one month of receiving it; we may extend this by two further months for complex requests, and would tell you why.',
    newHeading: 'Make a request',
    typeLegend: 'What would you like to ask for?',
    details: 'Details (optional)',
    detailsHint: 'Anything that helps us answer your request. Up to 5000 characters.',
    submit: 'Send the request',
    types: {
      access: { title: 'Access', text: 'A copy of the personal data we hold about you and how we use it (Art. 15).' },
      rectification: { title: 'Rectification', text: 'Correct data about you that is wrong or incomplete (Art. 16).' },
      erasure: { title: 'Erasure', text: 'Delete the data about you, unless the law requires us to keep it (Art. 17).' },
      restriction: { title: 'Restriction', text: 'Keep the data but stop using it, for example while its accuracy is checked (Art. 18).' },
      portability: { title: 'Portability', text: 'The data you gave us, in a machine-readable format, for you or another organisation (Art. 20).' },
      objection: { title: 'Objection', text: 'Object to a processing on grounds relating to your situation (Art. 21).' },
      automated_decision: { title: 'Automated decisions', text: 'A human review of a decision made about you by automated means (Art. 22).' },
      information: { title: 'Information', text: 'What we process about you, why, for how long and who receives it (Arts. 13 and 14).' },
    },
  },
  rectification: {
    category: 'Kind of data',
    categories: { contact: 'Contact details', address: 'Address', identity: 'Name and identity', other: 'Other' },
    field: 'What is wrong',
    fieldHint: 'For example: postal address, surname.',
    value: 'The correct value',
    submit: 'Ask for the correction',
  },
  restriction: {
    legend: 'Why should we restrict it?',
    grounds: {
      accuracy_contested: 'I contest the accuracy of the data, while it is checked (Art. 18(1)(a))',
      unlawful_processing: 'The processing is unlawful, and I want it restricted instead of erased (Art. 18(1)(b))',
      needed_for_legal_claims: 'You no longer need the data, but I need it for legal claims (Art. 18(1)(c))',
      objection_pending: 'I have objected, while it is checked whether your grounds override mine (Art. 18(1)(d))',
    },
    submit: 'Ask for the restriction',
  },
  erasure: {
    heading: 'Erase my data',
    text: 'We delete the data about you unless the law requires us to keep it. Because this cannot be undone, we first email you a one-time code to make sure it is you (Art. 32).',
    step1: 'Step 1: get a code by email',
    sendCode: 'Email me a code',
    step2: 'Step 2: enter the code',
    code: 'Code from the email (6 digits)',
    codeHint: 'The code is valid for 10 minutes and works once.',
    submit: 'Request erasure',
    confirm: 'Request the erasure of your data? This cannot be undone.',
  },
  requests: {
    heading: 'Your requests',
    none: 'You have not made any requests.',
    caption: 'Your requests and when we must answer them',
    type: 'Request',
    status: 'Status',
    received: 'Received',
    due: 'Answer due by',
    extended: 'extended',
    statuses: {
      received: 'Received',
      awaiting_approval: 'Being reviewed',
      awaiting_identity: 'Waiting for proof of identity',
      in_progress: 'In progress',
      completed: 'Completed',
      rejected: 'Rejected',
      withdrawn: 'Withdrawn',
    },
  },
  exports: {
    heading: 'Your data, ready to download',
    none: 'Nothing is ready to download.',
    item: (type, date) => `${type}, approved on ${date}`,
    deleted: 'No longer available: the copy has been deleted.',
    sendCode: 'Email me a code',
    code: 'Code from the email (6 digits)',
    download: 'Download (ZIP)',
    codeHint: 'To protect your data we email you a one-time code first.',
  },
  flash: {
    granted: 'Thank you: your consent is recorded.',
    withdrawn: 'Your consent is withdrawn.',
    objected_marketing: 'Your objection to direct marketing is recorded. It applies at once.',
    objected_purpose: 'Your objection is recorded. It applies at once.',
    objected_processing: 'Your objection is recorded. We will assess it and tell you the outcome.',
    objected_automated: 'Your objection to automated decisions is recorded.',
    request_filed: 'Your request is received. You can follow it below.',
    erasure_filed: 'Your erasure request is received. You can follow it below.',
    code_sent: 'We have emailed you a code. It is valid for 10 minutes.',
    code_invalid: 'That code is not right or has expired. Check the email, or ask for a new code.',
    code_required: 'Please ask for a code first.',
    code_unavailable: 'We cannot send codes at the moment. Please try again later or contact us.',
    no_email: 'We have no email address for you, so we cannot send a code. Please contact us.',
    too_soon: 'Please wait a minute before asking again.',
    stale: 'The text of this purpose has changed. Please read it again and choose again.',
    not_ready: 'This copy is not ready yet.',
    gone: 'This copy is no longer available.',
    failed: 'That did not work. Please try again.',
  },
  codeSentTo: (to) => `We have emailed a code to ${to}. It is valid for 10 minutes.`,
  error: {
    missingTitle: 'Open the link from your email',
    missing: 'This page needs the personal link the organisation sent you. Open that link again, or ask the organisation for a new one.',
    expiredTitle: 'This link has expired',
    expired: 'For your security, links to this page work only for a limited time. Please ask the organisation for a new link.',
    invalidTitle: 'This link does not work',
    invalid: 'The link is not valid: it may be incomplete or changed. Please ask the organisation for a new link.',
    malformedTitle: 'This link is incomplete',
    malformed: 'The link could not be read. Copy the whole link from the email, or ask the organisation for a new one.',
    csrfTitle: 'Your request was not accepted',
    csrf: 'For your security, we only accept changes made on this page itself. Please go back to the page, reload it and try again.',
    badFormTitle: 'The form could not be read',
    badForm: 'Some of the information sent was not valid. Please go back and try again.',
    busyTitle: 'Please try again shortly',
    busy: 'There are too many requests at the moment. Please wait a minute and try again.',
    brokenTitle: 'Something went wrong',
    broken: 'We could not handle your request. Please try again later.',
    back: 'Back to your privacy choices',
  },
  legalBases: NOTICE_TEXTS.en!.legalBases,
  footer: 'Your choices are recorded with the date and time, as the GDPR requires (Art. 7(1)).',
};

const bg: PageTexts = {
  languageName: 'Български',
  languages: 'Език',
  skip: 'Към съдържанието',
  title: 'Вашите избори за поверителност',
  intro: (org) => `Тук можете да видите как ${org} използва Вашите лични данни, да промените съгласието си, да възразите и да упражните правата си по ОРЗД.`,
  purposes: {
    heading: 'Как използваме Вашите данни',
    intro: 'Всяка цел, за която обработваме лични данни, нейното правно основание и, когато се основава на Вашето съгласие, текущият Ви избор.',
    none: 'Все още не сме регистрирали цели.',
    basis: 'Правно основание',
    categories: 'Използвани данни',
    retention: 'Срок на съхранение',
    state: 'Вашият избор',
    notRecorded: 'не е посочено',
    automated: 'Тази цел включва автоматизирани решения или профилиране.',
  },
  consent: {
    granted: 'Дали сте съгласие',
    withdrawn: 'Оттеглили сте съгласието си',
    none: 'Не сте дали съгласие',
    grant: 'Давам съгласие',
    withdraw: 'Оттеглям съгласието',
    notConsent: 'Тази цел не се основава на съгласие.',
    withdrawNote: 'Можете да оттеглите съгласието си по всяко време, толкова лесно, колкото сте го дали. Оттеглянето не засяга обработването преди него.',
  },
  object: {
    heading: 'Вашето право на възражение',
    intro: 'Имате право да възразите по всяко време (чл. 21 от ОРЗД).',
    marketingHeading: 'Директен маркетинг',
    marketingText: 'Можете да възразите срещу използването на данните Ви за директен маркетинг, включително профилиране за него. Тогава спираме веднага, без да искаме причини.',
    marketingAll: 'Възразявам срещу целия директен маркетинг',
    marketingAllDone: 'Възразили сте срещу целия директен маркетинг.',
    marketingPurpose: 'Възразявам',
    marketingPurposeDone: 'Възразили сте.',
    processingHeading: 'Обработване въз основа на наши интереси или обществена задача',
    processingText: 'На основания, свързани с Вашата конкретна ситуация, можете да възразите срещу обработване въз основа на нашите законни интереси или обществена задача. Тогава спираме, освен ако докажем убедителни законни основания, и Ви съобщаваме отговора си.',
    grounds: 'Вашите основания (по избор)',
    processingButton: 'Възразявам срещу това обработване',
    processingDone: 'Възразили сте; разглеждаме възражението.',
    automatedHeading: 'Автоматизирани решения',
    automatedText: 'Можете да възразите срещу решения за Вас, основани единствено на автоматизирано обработване, включително профилиране, и да поискате човек да ги преразгледа (чл. 22 от ОРЗД).',
    automatedButton: 'Възразявам срещу автоматизираните решения',
    automatedDone: 'Възразили сте срещу автоматизираните решения.',
  },
  rights: {
    heading: 'Вашите права',
    intro: 'Можете да подадете искане по всяко време. Отговаряме в срок от един месец от получаването му; при сложни искания можем да го удължим с още два месеца, като Ви обясним защо.',
    newHeading: 'Подаване на искане',
    typeLegend: 'Какво искате?',
    details: 'Подробности (по избор)',
    detailsHint: 'Всичко, което ще ни помогне да отговорим на искането Ви. До 5000 знака.',
    submit: 'Изпращане на искането',
    types: {
      access: { title: 'Достъп', text: 'Копие от личните данни, които пазим за Вас, и как ги използваме (чл. 15).' },
      rectification: { title: 'Коригиране', text: 'Поправяне на неточни или непълни данни за Вас (чл. 16).' },
      erasure: { title: 'Изтриване', text: 'Изтриване на данните за Вас, освен ако законът ни задължава да ги пазим (чл. 17).' },
      restriction: { title: 'Ограничаване', text: 'Данните се пазят, но не се използват, например докато се проверява точността им (чл. 18).' },
      portability: { title: 'Преносимост', text: 'Данните, които сте ни дали, в машинночетим формат, за Вас или за друга организация (чл. 20).' },
      objection: { title: 'Възражение', text: 'Възражение срещу обработване на основания, свързани с Вашата ситуация (чл. 21).' },
      automated_decision: { title: 'Автоматизирани решения', text: 'Преразглеждане от човек на решение за Вас, взето по автоматизиран начин (чл. 22).' },
      information: { title: 'Информация', text: 'Какво обработваме за Вас, защо, колко дълго и кой го получава (чл. 13 и 14).' },
    },
  },
  rectification: {
    category: 'Вид данни',
    categories: { contact: 'Данни за контакт', address: 'Адрес', identity: 'Име и самоличност', other: 'Друго' },
    field: 'Какво е неточно',
    fieldHint: 'Например: пощенски адрес, фамилия.',
    value: 'Точната стойност',
    submit: 'Искам корекция',
  },
  restriction: {
    legend: 'Защо да ограничим обработването?',
    grounds: {
      accuracy_contested: 'Оспорвам точността на данните, докато тя бъде проверена (чл. 18, параграф 1, буква „а“)',
      unlawful_processing: 'Обработването е неправомерно и искам ограничаване вместо изтриване (чл. 18, параграф 1, буква „б“)',
      needed_for_legal_claims: 'Данните вече не са Ви нужни, но на мен ми трябват за правни претенции (чл. 18, параграф 1, буква „в“)',
      objection_pending: 'Възразил/а съм, докато се провери дали Вашите основания имат преимущество (чл. 18, параграф 1, буква „г“)',
    },
    submit: 'Искам ограничаване',
  },
  erasure: {
    heading: 'Изтриване на моите данни',
    text: 'Изтриваме данните за Вас, освен ако законът ни задължава да ги пазим. Тъй като това е необратимо, първо Ви изпращаме еднократен код по имейл, за да се уверим, че сте Вие (чл. 32).',
    step1: 'Стъпка 1: получете код по имейл',
    sendCode: 'Изпратете ми код',
    step2: 'Стъпка 2: въведете кода',
    code: 'Код от имейла (6 цифри)',
    codeHint: 'Кодът е валиден 10 минути и може да се използва веднъж.',
    submit: 'Искам изтриване',
    confirm: 'Да поискаме ли изтриване на Вашите данни? Това е необратимо.',
  },
  requests: {
    heading: 'Вашите искания',
    none: 'Не сте подавали искания.',
    caption: 'Вашите искания и до кога трябва да отговорим',
    type: 'Искане',
    status: 'Състояние',
    received: 'Получено',
    due: 'Срок за отговор',
    extended: 'удължен',
    statuses: {
      received: 'Получено',
      awaiting_approval: 'В преглед',
      awaiting_identity: 'Очаква се потвърждение на самоличността',
      in_progress: 'В процес на изпълнение',
      completed: 'Изпълнено',
      rejected: 'Отказано',
      withdrawn: 'Оттеглено',
    },
  },
  exports: {
    heading: 'Вашите данни, готови за изтегляне',
    none: 'Няма нищо готово за изтегляне.',
    item: (type, date) => `${type}, одобрено на ${date}`,
    deleted: 'Вече не е налично: копието е изтрито.',
    sendCode: 'Изпратете ми код',
    code: 'Код от имейла (6 цифри)',
    download: 'Изтегляне (ZIP)',
    codeHint: 'За да защитим данните Ви, първо Ви изпращаме еднократен код по имейл.',
  },
  flash: {
    granted: 'Благодарим Ви: съгласието Ви е записано.',
    withdrawn: 'Съгласието Ви е оттеглено.',
    objected_marketing: 'Възражението Ви срещу директния маркетинг е записано. То важи веднага.',
    objected_purpose: 'Възражението Ви е записано. То важи веднага.',
    objected_processing: 'Възражението Ви е записано. Ще го разгледаме и ще Ви съобщим резултата.',
    objected_automated: 'Възражението Ви срещу автоматизираните решения е записано.',
    request_filed: 'Искането Ви е получено. Можете да го следите по-долу.',
    erasure_filed: 'Искането Ви за изтриване е получено. Можете да го следите по-долу.',
    code_sent: 'Изпратихме Ви код по имейл. Той е валиден 10 минути.',
    code_invalid: 'Кодът не е верен или е изтекъл. Проверете имейла или поискайте нов код.',
    code_required: 'Моля, първо поискайте код.',
    code_unavailable: 'В момента не можем да изпращаме кодове. Моля, опитайте по-късно или се свържете с нас.',
    no_email: 'Нямаме Ваш имейл адрес и не можем да Ви изпратим код. Моля, свържете се с нас.',
    too_soon: 'Моля, изчакайте една минута, преди да опитате отново.',
    stale: 'Текстът на тази цел е променен. Моля, прочетете го отново и изберете пак.',
    not_ready: 'Това копие още не е готово.',
    gone: 'Това копие вече не е налично.',
    failed: 'Не се получи. Моля, опитайте отново.',
  },
  codeSentTo: (to) => `Изпратихме код на ${to}. Той е валиден 10 минути.`,
  error: {
    missingTitle: 'Отворете връзката от имейла',
    missing: 'Тази страница изисква личната връзка, която организацията Ви е изпратила. Отворете я отново или поискайте нова от организацията.',
    expiredTitle: 'Тази връзка е изтекла',
    expired: 'За Ваша сигурност връзките към тази страница работят ограничено време. Моля, поискайте нова връзка от организацията.',
    invalidTitle: 'Тази връзка не работи',
    invalid: 'Връзката не е валидна: може да е непълна или променена. Моля, поискайте нова връзка от организацията.',
    malformedTitle: 'Тази връзка е непълна',
    malformed: 'Връзката не може да бъде прочетена. Копирайте цялата връзка от имейла или поискайте нова от организацията.',
    csrfTitle: 'Искането Ви не беше прието',
    csrf: 'За Ваша сигурност приемаме промени само от самата страница. Моля, върнете се, презаредете страницата и опитайте отново.',
    badFormTitle: 'Формулярът не може да бъде прочетен',
    badForm: 'Част от изпратената информация не е валидна. Моля, върнете се и опитайте отново.',
    busyTitle: 'Моля, опитайте отново след малко',
    busy: 'В момента има твърде много заявки. Моля, изчакайте една минута и опитайте отново.',
    brokenTitle: 'Нещо се обърка',
    broken: 'Не успяхме да обработим искането Ви. Моля, опитайте по-късно.',
    back: 'Обратно към Вашите избори',
  },
  legalBases: NOTICE_TEXTS.bg!.legalBases,
  footer: 'Изборите Ви се записват с дата и час, както изисква ОРЗД (чл. 7, параграф 1).',
};

const de: PageTexts = {
  languageName: 'Deutsch',
  languages: 'Sprache',
  skip: 'Zum Inhalt springen',
  title: 'Ihre Datenschutz-Einstellungen',
  intro: (org) => `Hier sehen Sie, wie ${org} Ihre personenbezogenen Daten verwendet, können Ihre Einwilligung ändern, widersprechen und Ihre Rechte nach der DSGVO ausüben.`,
  purposes: {
    heading: 'Wie wir Ihre Daten verwenden',
    intro: 'Jeder Zweck, für den wir personenbezogene Daten verarbeiten, seine Rechtsgrundlage und, wo er auf Ihrer Einwilligung beruht, Ihre aktuelle Wahl.',
    none: 'Wir haben noch keine Zwecke eingetragen.',
    basis: 'Rechtsgrundlage',
    categories: 'Verwendete Daten',
    retention: 'Speicherdauer',
    state: 'Ihre Wahl',
    notRecorded: 'nicht angegeben',
    automated: 'Dieser Zweck umfasst automatisierte Entscheidungen oder Profiling.',
  },
  consent: {
    granted: 'Sie haben eingewilligt',
    withdrawn: 'Sie haben Ihre Einwilligung widerrufen',
    none: 'Sie haben nicht eingewilligt',
    grant: 'Einwilligen',
    withdraw: 'Einwilligung widerrufen',
    notConsent: 'Dieser Zweck beruht nicht auf einer Einwilligung.',
    withdrawNote: 'Sie können Ihre Einwilligung jederzeit so einfach widerrufen, wie Sie sie erteilt haben. Der Widerruf berührt die Verarbeitung davor nicht.',
  },
  object: {
    heading: 'Ihr Widerspruchsrecht',
    intro: 'Sie haben das Recht, jederzeit zu widersprechen (Art. 21 DSGVO).',
    marketingHeading: 'Direktwerbung',
    marketingText: 'Sie können der Verwendung Ihrer Daten für Direktwerbung widersprechen, einschließlich des Profilings dafür. Wir hören dann sofort auf, ohne nach Gründen zu fragen.',
    marketingAll: 'Jeder Direktwerbung widersprechen',
    marketingAllDone: 'Sie haben jeder Direktwerbung widersprochen.',
    marketingPurpose: 'Widersprechen',
    marketingPurposeDone: 'Sie haben widersprochen.',
    processingHeading: 'Verarbeitung aufgrund unserer Interessen oder einer öffentlichen Aufgabe',
    processingText: 'Aus Gründen, die sich aus Ihrer besonderen Situation ergeben, können Sie einer Verarbeitung aufgrund unserer berechtigten Interessen oder einer öffentlichen Aufgabe widersprechen. Wir hören dann auf, es sei denn, wir weisen zwingende schutzwürdige Gründe nach, und teilen Ihnen unsere Antwort mit.',
    grounds: 'Ihre Gründe (optional)',
    processingButton: 'Dieser Verarbeitung widersprechen',
    processingDone: 'Sie haben widersprochen; wir prüfen es.',
    automatedHeading: 'Automatisierte Entscheidungen',
    automatedText: 'Sie können Entscheidungen über Sie widersprechen, die ausschließlich auf automatisierter Verarbeitung einschließlich Profiling beruhen, und eine Überprüfung durch einen Menschen verlangen (Art. 22 DSGVO).',
    automatedButton: 'Automatisierten Entscheidungen widersprechen',
    automatedDone: 'Sie haben automatisierten Entscheidungen widersprochen.',
  },
  rights: {
    heading: 'Ihre Rechte',
    intro: 'Sie können jederzeit einen Antrag stellen. Wir antworten innerhalb eines Monats nach Eingang; bei komplexen Anträgen können wir die Frist um zwei weitere Monate verlängern und sagen Ihnen, warum.',
    newHeading: 'Einen Antrag stellen',
    typeLegend: 'Was möchten Sie beantragen?',
    details: 'Einzelheiten (optional)',
    detailsHint: 'Alles, was uns hilft, Ihren Antrag zu beantworten. Bis zu 5000 Zeichen.',
    submit: 'Antrag senden',
    types: {
      access: { title: 'Auskunft', text: 'Eine Kopie der personenbezogenen Daten, die wir über Sie haben, und wie wir sie verwenden (Art. 15).' },
      rectification: { title: 'Berichtigung', text: 'Falsche oder unvollständige Daten über Sie korrigieren (Art. 16).' },
      erasure: { title: 'Löschung', text: 'Die Daten über Sie löschen, sofern wir sie nicht gesetzlich aufbewahren müssen (Art. 17).' },
      restriction: { title: 'Einschränkung', text: 'Die Daten aufbewahren, aber nicht mehr verwenden, etwa während ihre Richtigkeit geprüft wird (Art. 18).' },
      portability: { title: 'Datenübertragbarkeit', text: 'Die Daten, die Sie uns gegeben haben, in einem maschinenlesbaren Format, für Sie oder eine andere Stelle (Art. 20).' },
      objection: { title: 'Widerspruch', text: 'Einer Verarbeitung aus Gründen Ihrer besonderen Situation widersprechen (Art. 21).' },
      automated_decision: { title: 'Automatisierte Entscheidungen', text: 'Eine Überprüfung einer automatisiert getroffenen Entscheidung über Sie durch einen Menschen (Art. 22).' },
      information: { title: 'Information', text: 'Was wir über Sie verarbeiten, warum, wie lange und wer es erhält (Art. 13 und 14).' },
    },
  },
  rectification: {
    category: 'Art der Daten',
    categories: { contact: 'Kontaktdaten', address: 'Adresse', identity: 'Name und Identität', other: 'Sonstiges' },
    field: 'Was ist falsch',
    fieldHint: 'Zum Beispiel: Postanschrift, Nachname.',
    value: 'Der richtige Wert',
    submit: 'Berichtigung beantragen',
  },
  restriction: {
    legend: 'Warum soll die Verarbeitung eingeschränkt werden?',
    grounds: {
      accuracy_contested: 'Ich bestreite die Richtigkeit der Daten, solange sie geprüft wird (Art. 18 Abs. 1 lit. a)',
      unlawful_processing: 'Die Verarbeitung ist unrechtmäßig, und ich möchte statt der Löschung eine Einschränkung (Art. 18 Abs. 1 lit. b)',
      needed_for_legal_claims: 'Sie brauchen die Daten nicht mehr, ich aber für Rechtsansprüche (Art. 18 Abs. 1 lit. c)',
      objection_pending: 'Ich habe widersprochen, solange geprüft wird, ob Ihre Gründe überwiegen (Art. 18 Abs. 1 lit. d)',
    },
    submit: 'Einschränkung beantragen',
  },
  erasure: {
    heading: 'Meine Daten löschen',
    text: 'Wir löschen die Daten über Sie, sofern wir sie nicht gesetzlich aufbewahren müssen. Weil das nicht rückgängig zu machen ist, senden wir Ihnen zuerst einen Einmalcode per E-Mail, um sicherzugehen, dass Sie es sind (Art. 32).',
    step1: 'Schritt 1: Code per E-Mail anfordern',
    sendCode: 'Code per E-Mail senden',
    step2: 'Schritt 2: Code eingeben',
    code: 'Code aus der E-Mail (6 Ziffern)',
    codeHint: 'Der Code gilt 10 Minuten und funktioniert einmal.',
    submit: 'Löschung beantragen',
    confirm: 'Die Löschung Ihrer Daten beantragen? Das kann nicht rückgängig gemacht werden.',
  },
  requests: {
    heading: 'Ihre Anträge',
    none: 'Sie haben keine Anträge gestellt.',
    caption: 'Ihre Anträge und bis wann wir antworten müssen',
    type: 'Antrag',
    status: 'Stand',
    received: 'Eingegangen',
    due: 'Antwort fällig bis',
    extended: 'verlängert',
    statuses: {
      received: 'Eingegangen',
      awaiting_approval: 'In Prüfung',
      awaiting_identity: 'Warten auf Identitätsnachweis',
      in_progress: 'In Bearbeitung',
      completed: 'Erledigt',
      rejected: 'Abgelehnt',
      withdrawn: 'Zurückgezogen',
    },
  },
  exports: {
    heading: 'Ihre Daten zum Herunterladen',
    none: 'Es liegt nichts zum Herunterladen bereit.',
    item: (type, date) => `${type}, freigegeben am ${date}`,
    deleted: 'Nicht mehr verfügbar: die Kopie wurde gelöscht.',
    sendCode: 'Code per E-Mail senden',
    code: 'Code aus der E-Mail (6 Ziffern)',
    download: 'Herunterladen (ZIP)',
    codeHint: 'Zum Schutz Ihrer Daten senden wir Ihnen zuerst einen Einmalcode per E-Mail.',
  },
  flash: {
    granted: 'Danke: Ihre Einwilligung ist gespeichert.',
    withdrawn: 'Ihre Einwilligung ist widerrufen.',
    objected_marketing: 'Ihr Widerspruch gegen Direktwerbung ist gespeichert. Er gilt sofort.',
    objected_purpose: 'Ihr Widerspruch ist gespeichert. Er gilt sofort.',
    objected_processing: 'Ihr Widerspruch ist gespeichert. Wir prüfen ihn und teilen Ihnen das Ergebnis mit.',
    objected_automated: 'Ihr Widerspruch gegen automatisierte Entscheidungen ist gespeichert.',
    request_filed: 'Ihr Antrag ist eingegangen. Sie können ihn unten verfolgen.',
    erasure_filed: 'Ihr Löschantrag ist eingegangen. Sie können ihn unten verfolgen.',
    code_sent: 'Wir haben Ihnen einen Code gesendet. Er gilt 10 Minuten.',
    code_invalid: 'Der Code stimmt nicht oder ist abgelaufen. Prüfen Sie die E-Mail oder fordern Sie einen neuen Code an.',
    code_required: 'Bitte fordern Sie zuerst einen Code an.',
    code_unavailable: 'Wir können gerade keine Codes senden. Bitte versuchen Sie es später oder wenden Sie sich an uns.',
    no_email: 'Wir haben keine E-Mail-Adresse von Ihnen und können keinen Code senden. Bitte wenden Sie sich an uns.',
    too_soon: 'Bitte warten Sie eine Minute, bevor Sie es erneut versuchen.',
    stale: 'Der Text dieses Zwecks hat sich geändert. Bitte lesen Sie ihn erneut und wählen Sie noch einmal.',
    not_ready: 'Diese Kopie ist noch nicht bereit.',
    gone: 'Diese Kopie ist nicht mehr verfügbar.',
    failed: 'Das hat nicht geklappt. Bitte versuchen Sie es erneut.',
  },
  codeSentTo: (to) => `Wir haben einen Code an ${to} gesendet. Er gilt 10 Minuten.`,
  error: {
    missingTitle: 'Öffnen Sie den Link aus Ihrer E-Mail',
    missing: 'Diese Seite braucht den persönlichen Link, den die Organisation Ihnen gesendet hat. Öffnen Sie ihn erneut oder bitten Sie die Organisation um einen neuen.',
    expiredTitle: 'Dieser Link ist abgelaufen',
    expired: 'Zu Ihrer Sicherheit funktionieren Links zu dieser Seite nur begrenzte Zeit. Bitte bitten Sie die Organisation um einen neuen Link.',
    invalidTitle: 'Dieser Link funktioniert nicht',
    invalid: 'Der Link ist ungültig: Er ist vielleicht unvollständig oder verändert. Bitte bitten Sie die Organisation um einen neuen Link.',
    malformedTitle: 'Dieser Link ist unvollständig',
    malformed: 'Der Link konnte nicht gelesen werden. Kopieren Sie den ganzen Link aus der E-Mail oder bitten Sie die Organisation um einen neuen.',
    csrfTitle: 'Ihre Anfrage wurde nicht angenommen',
    csrf: 'Zu Ihrer Sicherheit nehmen wir Änderungen nur von dieser Seite selbst an. Bitte kehren Sie zur Seite zurück, laden Sie sie neu und versuchen Sie es erneut.',
    badFormTitle: 'Das Formular konnte nicht gelesen werden',
    badForm: 'Einige der gesendeten Angaben sind ungültig. Bitte gehen Sie zurück und versuchen Sie es erneut.',
    busyTitle: 'Bitte versuchen Sie es gleich noch einmal',
    busy: 'Gerade gibt es zu viele Anfragen. Bitte warten Sie eine Minute und versuchen Sie es erneut.',
    brokenTitle: 'Etwas ist schiefgegangen',
    broken: 'Wir konnten Ihre Anfrage nicht bearbeiten. Bitte versuchen Sie es später erneut.',
    back: 'Zurück zu Ihren Einstellungen',
  },
  legalBases: NOTICE_TEXTS.de!.legalBases,
  footer: 'Ihre Entscheidungen werden mit Datum und Uhrzeit gespeichert, wie es die DSGVO verlangt (Art. 7 Abs. 1).',
};

export const PAGE_TEXTS: Record<PageLocale, PageTexts> = { en, bg, de };

export const isPageLocale = (v: unknown): v is PageLocale => typeof v === 'string' && (PAGE_LOCALES as readonly string[]).includes(v);

/** The first language of an Accept-Language header (by quality) that the page speaks, or null. */
export function localeFromAcceptLanguage(header: string | undefined): PageLocale | null {
  if (!header) return null;
  const ranked = header
    .split(',')
    .slice(0, 20)
    .map((part, i) => {
      const [tag, ...params] = part.trim().split(';');
      const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find(Boolean);
      return { lang: (tag ?? '').trim().toLowerCase().split('-')[0]!, q: q === undefined ? 1 : Number(q), i };
    })
    .filter((x) => x.q > 0)
    .sort((a, b) => b.q - a.q || a.i - b.i);
  return ranked.map((x) => x.lang).find(isPageLocale) ?? null;
}
