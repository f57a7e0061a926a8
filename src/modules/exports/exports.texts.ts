// The words of the access package's index.html that the privacy notice does not already have: the headings and
// rights come from the notice's texts (privacy-notice.texts.ts), these describe the copy itself (Art. 15(3)).
import { noticeLocale } from '../privacy-notice/privacy-notice.texts.js';

export type PackageTexts = {
  title: string;
  intro: string;
  generatedAt: string;
  request: string;
  /** Art. 15(1)(c), C-154/21: the recipients actually named, apart from the purposes' categories of recipients. */
  recipientsNamed: string;
  recipientsByPurpose: string;
  processor: string;
  noRecipients: string;
  noTransfers: string;
  noAutomated: string;
  notStated: string;
  byPurpose: string;
  inPackage: string;
  exceptionRelied: string;
  logic: string;
  appliesTo: string;
  authority: string;
  contact: { email: string; phone: string; address: string };
  packageHeading: string;
  ourRecords: string;
  columns: { source: string; category: string; records: string; file: string; content: string };
  files: { data: string; schema: string; csv: string; index: string; manifest: string };
  withheld: string;
};

const en: PackageTexts = {
  title: 'Copy of your personal data',
  intro:
    'This package answers your request for access (Art. 15 GDPR). It holds a copy of the personal data we process about you and the information about that processing the law gives you a right to.',
  generatedAt: 'Generated',
  request: 'Request',
  recipientsNamed: 'The recipients your data has been disclosed to:',
  recipientsByPurpose: 'Recipients or categories of recipients for each purpose:',
  processor: 'processor, acting on our behalf',
  noRecipients: 'Your data has not been disclosed to recipients.',
  noTransfers: 'Your data is not transferred to third countries or international organisations.',
  noAutomated: 'We make no decision about you based solely on automated processing, profiling included.',
  notStated: 'Not stated.',
  byPurpose: 'For each purpose:',
  inPackage: 'In this package:',
  exceptionRelied: 'Exception relied on',
  logic: 'The logic involved, its significance and the envisaged consequences',
  appliesTo: 'Applies to:',
  authority: 'Supervisory authority',
  contact: { email: 'E-mail', phone: 'Telephone', address: 'Address' },
  packageHeading: 'What this package holds',
  ourRecords: 'Our records of your consents and requests',
  columns: { source: 'Source', category: 'Category', records: 'Records', file: 'File', content: 'Content' },
  files: {
    data: 'All the data in one machine-readable file (JSON)',
    schema: 'The structure of data.json (JSON Schema)',
    csv: 'One table per category (CSV, UTF-8), for a spreadsheet',
    index: 'This summary',
    manifest: 'The list of files with their sizes and SHA-256 checksums, and what was withheld',
  },
  withheld:
    'Some information was withheld to protect the rights and freedoms of others (Art. 15(4) GDPR). manifest.json lists which parts and categories, without their content.',
};

const bg: PackageTexts = {
  title: 'Копие на Вашите лични данни',
  intro:
    'Този пакет отговаря на Вашето искане за достъп (чл. 15 от ОРЗД). Той съдържа копие на личните данни, които обработваме за Вас, и информацията за обработването, на която имате право по закон.',
  generatedAt: 'Създаден на',
  request: 'Искане',
  recipientsNamed: 'Получателите, на които са разкрити Вашите данни:',
  recipientsByPurpose: 'Получатели или категории получатели за всяка цел:',
  processor: 'обработващ лични данни от наше име',
  noRecipients: 'Вашите данни не са разкривани на получатели.',
  noTransfers: 'Вашите данни не се предават на трети държави или международни организации.',
  noAutomated: 'Не вземаме решения за Вас, основани единствено на автоматизирано обработване, включително профилиране.',
  notStated: 'Не е посочено.',
  byPurpose: 'За всяка цел:',
  inPackage: 'В този пакет:',
  exceptionRelied: 'Приложимо изключение',
  logic: 'Използваната логика, значението и предвидените последствия',
  appliesTo: 'Отнася се за:',
  authority: 'Надзорен орган',
  contact: { email: 'Имейл', phone: 'Телефон', address: 'Адрес' },
  packageHeading: 'Какво съдържа този пакет',
  ourRecords: 'Нашите записи за Вашите съгласия и искания',
  columns: { source: 'Източник', category: 'Категория', records: 'Записи', file: 'Файл', content: 'Съдържание' },
  files: {
    data: 'Всички данни в един машинночетим файл (JSON)',
    schema: 'Структурата на data.json (JSON Schema)',
    csv: 'По една таблица за всяка категория (CSV, UTF-8), за електронна таблица',
    index: 'Това резюме',
    manifest: 'Списъкът на файловете с техните размери и контролни суми SHA-256, и какво е заличено',
  },
  withheld:
    'Част от информацията е заличена, за да бъдат защитени правата и свободите на други лица (чл. 15, параграф 4 от ОРЗД). Файлът manifest.json посочва кои части и категории, без тяхното съдържание.',
};

const de: PackageTexts = {
  title: 'Kopie Ihrer personenbezogenen Daten',
  intro:
    'Dieses Paket beantwortet Ihren Antrag auf Auskunft (Art. 15 DSGVO). Es enthält eine Kopie der personenbezogenen Daten, die wir über Sie verarbeiten, und die Informationen über diese Verarbeitung, auf die Sie ein Recht haben.',
  generatedAt: 'Erstellt am',
  request: 'Antrag',
  recipientsNamed: 'Die Empfänger, denen Ihre Daten offengelegt wurden:',
  recipientsByPurpose: 'Empfänger oder Kategorien von Empfängern je Zweck:',
  processor: 'Auftragsverarbeiter, in unserem Auftrag tätig',
  noRecipients: 'Ihre Daten wurden keinen Empfängern offengelegt.',
  noTransfers: 'Ihre Daten werden nicht in Drittländer oder an internationale Organisationen übermittelt.',
  noAutomated: 'Wir treffen keine ausschließlich auf einer automatisierten Verarbeitung – einschließlich Profiling – beruhenden Entscheidung über Sie.',
  notStated: 'Nicht angegeben.',
  byPurpose: 'Je Zweck:',
  inPackage: 'In diesem Paket:',
  exceptionRelied: 'Herangezogene Ausnahme',
  logic: 'Die involvierte Logik, ihre Tragweite und die angestrebten Auswirkungen',
  appliesTo: 'Gilt für:',
  authority: 'Aufsichtsbehörde',
  contact: { email: 'E-Mail', phone: 'Telefon', address: 'Anschrift' },
  packageHeading: 'Was dieses Paket enthält',
  ourRecords: 'Unsere Aufzeichnungen Ihrer Einwilligungen und Anträge',
  columns: { source: 'Herkunft', category: 'Kategorie', records: 'Datensätze', file: 'Datei', content: 'Inhalt' },
  files: {
    data: 'Alle Daten in einer maschinenlesbaren Datei (JSON)',
    schema: 'Die Struktur von data.json (JSON Schema)',
    csv: 'Eine Tabelle je Kategorie (CSV, UTF-8), für eine Tabellenkalkulation',
    index: 'Diese Übersicht',
    manifest: 'Die Liste der Dateien mit Größe und SHA-256-Prüfsumme, und was zurückgehalten wurde',
  },
  withheld:
    'Einige Informationen wurden zum Schutz der Rechte und Freiheiten anderer Personen zurückgehalten (Art. 15 Abs. 4 DSGVO). manifest.json nennt die betroffenen Teile und Kategorien, ohne ihren Inhalt.',
};

export const PACKAGE_TEXTS: Record<string, PackageTexts> = { en, bg, de };

/** The package speaks the notice's locales, with the same fallback (the bare language, then en). */
export function packageLocale(locale: string): string {
  const l = noticeLocale([locale]);
  return PACKAGE_TEXTS[l] ? l : 'en';
}
