"""A clinical and medtech vocabulary for generated innovation texts, drawn with a long-tailed (Zipf) distribution.

A search benchmark over text built from a few dozen repeated words measures nothing: every query matches every
document. Real catalogues have a few very common words ("patients", "monitoring") and a long tail of terms that
appear in a handful of listings ("bronchiectasis", "capsule endoscopy"). So the generator draws each slot of a
sentence from a pool of real terms ranked at random (fixed by the seed) and weighted 1 / rank^s.

The pools are curated lists (conditions, anatomy, specialties, tests and imaging, device and product types,
digital terms, procedures, medicines, outcomes, staff) plus compositional terms built from them
("diabetic foot screening", "cardiac rehabilitation app"), several thousand distinct terms in all.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass


def _terms(text: str) -> tuple[str, ...]:
    """One term per line or comma; blank entries dropped, first spelling kept, order kept."""
    kept: list[str] = []
    lowered: set[str] = set()
    for line in text.splitlines():
        for raw in line.split(","):
            term = raw.strip()
            if term and term.lower() not in lowered:
                kept.append(term)
                lowered.add(term.lower())
    return tuple(kept)


CONDITIONS = _terms("""
atrial fibrillation, heart failure, hypertension, coronary artery disease, angina, myocardial infarction,
cardiomyopathy, aortic stenosis, mitral regurgitation, peripheral arterial disease, deep vein thrombosis,
pulmonary embolism, abdominal aortic aneurysm, varicose veins, venous leg ulcers, bradycardia, tachycardia,
supraventricular tachycardia, ventricular tachycardia, long QT syndrome, familial hypercholesterolaemia,
type 1 diabetes, type 2 diabetes, gestational diabetes, prediabetes, diabetic retinopathy, diabetic foot ulcers,
diabetic neuropathy, diabetic kidney disease, hypoglycaemia, obesity, metabolic syndrome, hypothyroidism,
hyperthyroidism, Cushing's syndrome, Addison's disease, osteoporosis, vitamin D deficiency,
asthma, COPD, bronchiectasis, cystic fibrosis, interstitial lung disease, idiopathic pulmonary fibrosis,
sleep apnoea, pneumonia, tuberculosis, lung cancer, pleural effusion, pneumothorax, long COVID, COVID-19,
influenza, respiratory syncytial virus, sepsis, urinary tract infection, cellulitis, surgical site infection,
MRSA, Clostridioides difficile, antimicrobial resistance, HIV, hepatitis B, hepatitis C,
sexually transmitted infections,
stroke, transient ischaemic attack, epilepsy, migraine, multiple sclerosis, Parkinson's disease, motor neurone disease,
dementia, Alzheimer's disease, vascular dementia, delirium, traumatic brain injury, spinal cord injury, neuropathy,
cerebral palsy, chronic fatigue syndrome, fibromyalgia, chronic pain, low back pain, neck pain, sciatica,
osteoarthritis, rheumatoid arthritis, psoriatic arthritis, ankylosing spondylitis, gout, lupus, hip fracture,
fragility fractures, falls, frailty, sarcopenia, pressure ulcers, incontinence, urinary incontinence,
faecal incontinence, overactive bladder, benign prostatic hyperplasia, prostate cancer, bladder cancer,
kidney cancer, chronic kidney disease, acute kidney injury, kidney stones, end-stage renal disease,
breast cancer, bowel cancer, colorectal cancer, oesophageal cancer, stomach cancer, pancreatic cancer,
liver cancer, ovarian cancer, cervical cancer, endometrial cancer, skin cancer, melanoma, basal cell carcinoma,
head and neck cancer, thyroid cancer, brain tumours, leukaemia, lymphoma, myeloma, sarcoma, childhood cancer,
Barrett's oesophagus, coeliac disease, Crohn's disease, ulcerative colitis, irritable bowel syndrome,
gastro-oesophageal reflux disease, dysphagia, malnutrition, constipation, diverticular disease, gallstones,
non-alcoholic fatty liver disease, cirrhosis, alcohol-related liver disease, pancreatitis, haemorrhoids,
depression, anxiety, generalised anxiety disorder, panic disorder, post-traumatic stress disorder,
obsessive compulsive disorder, bipolar disorder, schizophrenia, psychosis, eating disorders, anorexia nervosa,
bulimia, self-harm, suicide prevention, insomnia, ADHD, autism, learning disabilities, postnatal depression,
perinatal mental health, substance misuse, alcohol dependence, opioid dependence, smoking cessation, gambling harm,
glaucoma, cataract, age-related macular degeneration, retinal vein occlusion, keratoconus, dry eye disease,
amblyopia, hearing loss, tinnitus, otitis media, chronic rhinosinusitis, tonsillitis, voice disorders,
dental caries, periodontal disease, oral cancer, eczema, atopic dermatitis, psoriasis, acne, hidradenitis suppurativa,
chronic wounds, burns, scars, lymphoedema, anaemia, iron deficiency anaemia, sickle cell disease, thalassaemia,
haemophilia, venous thromboembolism, pre-eclampsia, preterm birth, stillbirth, postpartum haemorrhage,
fetal growth restriction, neonatal jaundice, neonatal sepsis, bronchiolitis, childhood obesity, endometriosis,
polycystic ovary syndrome, menopause, infertility, erectile dysfunction, pelvic organ prolapse,
heavy menstrual bleeding,
anaphylaxis, allergies, food allergy, hay fever, chronic urticaria, multimorbidity, polypharmacy, end of life care,
cardiac arrest, major trauma, acute abdominal pain, chest pain, breathlessness, syncope, dizziness, headache,
hyperkalaemia, hyponatraemia, dehydration, hypothermia, heat illness, acute coronary syndrome, aortic dissection,
peripheral neuropathy, restless legs syndrome, essential tremor, dystonia, Huntington's disease, myasthenia gravis,
Guillain-Barré syndrome, carpal tunnel syndrome, plantar fasciitis, tendinopathy, frozen shoulder, scoliosis,
osteomyelitis, septic arthritis, Lyme disease, malaria, measles, whooping cough, meningitis, encephalitis
""")

ANATOMY = _terms("""
heart, lungs, kidney, liver, pancreas, bladder, bowel, colon, rectum, stomach, oesophagus, small intestine,
gallbladder, spleen, thyroid, adrenal gland, pituitary gland, brain, spinal cord, nerves, retina, cornea, lens,
optic nerve, inner ear, middle ear, cochlea, larynx, trachea, bronchi, alveoli, pleura, diaphragm, aorta,
coronary arteries, carotid artery, femoral artery, veins, capillaries, lymph nodes, bone marrow, skin, wound bed,
muscle, tendon, ligament, cartilage, joints, knee, hip, shoulder, elbow, wrist, ankle, foot, hand, spine,
lumbar spine, cervical spine, pelvis, skull, jaw, teeth, gums, tongue, salivary glands, sinuses, nasal cavity,
prostate, uterus, cervix, ovaries, placenta, breast, chest wall, abdominal wall, peritoneum, mitral valve,
aortic valve, tricuspid valve, left ventricle, right atrium, pericardium, sinoatrial node, blood vessels,
arterial wall, venous system, urinary tract, ureter, urethra, kidney tubules, liver lobule, bile duct,
pancreatic duct, duodenum, appendix, caecum, sigmoid colon, anal canal, pelvic floor, rotator cuff,
Achilles tendon, meniscus, anterior cruciate ligament, vertebrae, intervertebral disc, femur, tibia, radius,
scaphoid, metatarsals, ribs, sternum, clavicle, scalp, eyelid, conjunctiva, macula, vitreous, tear film
""")

SPECIALTIES = _terms("""
cardiology, respiratory medicine, endocrinology, diabetology, gastroenterology, hepatology, nephrology, urology,
neurology, stroke medicine, psychiatry, mental health, old age psychiatry, child and adolescent mental health,
paediatrics, neonatology, obstetrics, gynaecology, midwifery, maternity, oncology, clinical oncology,
haematology, radiology, interventional radiology, nuclear medicine, pathology, histopathology, microbiology,
virology, immunology, rheumatology, dermatology, ophthalmology, audiology, ENT, oral surgery, dentistry,
orthodontics, orthopaedics, trauma surgery, general surgery, colorectal surgery, vascular surgery,
cardiothoracic surgery, neurosurgery, plastic surgery, breast surgery, bariatric surgery, anaesthesia,
intensive care, critical care, emergency medicine, acute medicine, geriatric medicine, palliative care,
general practice, primary care, community nursing, district nursing, public health, sexual health,
infectious diseases, infection prevention and control, pharmacy, physiotherapy, occupational therapy,
speech and language therapy, dietetics, podiatry, orthotics, prosthetics, rehabilitation medicine,
sports and exercise medicine, sleep medicine, pain medicine, allergy, clinical genetics, genomics,
tissue viability, continence services, wound care, stoma care, renal dialysis, transplant surgery
""")

TESTS_AND_IMAGING = _terms("""
ECG, 12-lead ECG, ambulatory ECG, Holter monitoring, echocardiography, cardiac MRI, CT coronary angiography,
fractional flow reserve, stress testing, spirometry, peak flow, pulse oximetry, blood gas analysis,
FeNO testing, sleep study, polysomnography, chest X-ray, CT scan, MRI scan, PET-CT, ultrasound,
point-of-care ultrasound, Doppler ultrasound, mammography, tomosynthesis, bone densitometry, DEXA scan,
fluoroscopy, endoscopy, colonoscopy, capsule endoscopy, cystoscopy, bronchoscopy, gastroscopy, sigmoidoscopy,
faecal immunochemical test, HbA1c test, lipid profile, full blood count, troponin test, natriuretic peptide test,
NT-proBNP, D-dimer, CRP test, procalcitonin, urine dipstick, urine albumin to creatinine ratio, eGFR,
liver function tests, blood culture, PCR testing, lateral flow test, rapid antigen test, genomic sequencing,
whole genome sequencing, liquid biopsy, circulating tumour DNA, cytology, HPV testing, cervical screening,
retinal imaging, optical coherence tomography, fundus photography, visual field test, tonometry, audiometry,
tympanometry, EEG, EMG, nerve conduction studies, dermoscopy, digital dermoscopy, wound imaging,
thermal imaging, gait analysis, blood pressure measurement, ambulatory blood pressure monitoring,
continuous glucose monitoring, flash glucose monitoring, capillary blood glucose, ketone testing,
INR testing, anticoagulation monitoring, bladder scanning, uroflowmetry, foetal heart rate monitoring,
cardiotocography, newborn hearing screening, bilirubin testing, sweat test, allergy testing, skin prick test,
spirometry coaching, cognitive assessment, frailty assessment, falls risk assessment, nutritional screening,
early warning score, NEWS2, sepsis screening, pressure ulcer risk assessment, pain scoring
""")

# Product types by DPS category slug (dps.reference.CATEGORIES): what a supplier in that category sells.
PRODUCTS_BY_CATEGORY: dict[str, tuple[str, ...]] = {
    "virtual-wards": _terms("""
        virtual ward platform, remote monitoring platform, hospital at home service, telehealth hub,
        remote patient monitoring kit, clinical observation dashboard, early warning alerting service,
        vital signs patch, home oxygen monitoring service, remote heart failure monitoring,
        remote COPD monitoring, post-discharge monitoring service, care home monitoring system,
        frailty virtual ward, respiratory virtual ward, acute respiratory infection pathway,
        step-down monitoring service, wireless observations system, bed sensor, chair sensor,
        remote consultation platform, patient messaging service, clinical triage hub, two-way video service,
        escalation management system, medication prompting service, telecare alarm, falls detection sensor
    """),
    "wearables-home-diagnostics": _terms("""
        wearable ECG patch, smartwatch arrhythmia detection, home blood pressure monitor, digital stethoscope,
        smart inhaler, connected spirometer, home sleep apnoea test, continuous glucose monitor,
        insulin pump, closed-loop insulin system, smart insulin pen, home urine test kit, kidney home test,
        home INR monitor, fertility tracker, wearable activity tracker, smart scales, pulse oximeter,
        in-ear thermometer, wearable cardioverter defibrillator, implantable loop recorder, gait sensor,
        smart insoles, hearing aid, bone conduction hearing system, home FIT kit, HPV self-sampling kit,
        home spirometry service, breath analyser, sweat sensor, wearable seizure detector
    """),
    "ai-diagnostics": _terms("""
        AI triage assistant, chest X-ray triage AI, stroke detection software, retinal screening AI,
        skin lesion classification AI, breast screening AI, lung nodule detection AI, fracture detection AI,
        prostate MRI AI, colonoscopy polyp detection, ECG interpretation algorithm, sepsis prediction model,
        deterioration prediction model, clinical decision support system, symptom checker,
        natural language processing service, ambient voice technology, clinical coding AI,
        digital pathology AI, cervical cytology AI, diabetic retinopathy grading AI, heart murmur detection AI,
        risk stratification tool, readmission prediction model, no-show prediction model, radiology worklist AI,
        CT head triage AI, pulmonary embolism detection AI, echocardiography analysis AI, dermatology triage AI
    """),
    "imaging": _terms("""
        digital pathology scanner, whole slide imaging system, CT-derived fractional flow reserve analysis,
        3D surgical planning tool, 3D printed anatomical model, handheld ultrasound probe,
        point-of-care ultrasound system, portable X-ray unit, low-field MRI scanner, mobile CT scanner,
        image sharing platform, PACS viewer, teleradiology service, tomosynthesis system, photon-counting CT,
        optical coherence tomography system, fundus camera, slit lamp camera, wound imaging app,
        thermal imaging camera, dermatoscope, capsule endoscopy system, endoscopy image enhancement,
        fluorescence guided surgery system, intraoperative imaging system, augmented reality surgical viewer,
        bone density scanner, mammography unit, image quality assurance software, dose monitoring software
    """),
    "surgical-infection-prevention": _terms("""
        antibacterial sutures, triclosan-coated sutures, barbed sutures, catheter securement device,
        colonoscopy cuff, negative pressure wound therapy, single-use negative pressure dressing,
        antimicrobial dressing, silver dressing, surgical site infection bundle, chlorhexidine skin preparation,
        UV disinfection robot, hydrogen peroxide vapour system, hand hygiene monitoring system,
        closed system transfer device, needle-free connector, peripheral IV cannula, midline catheter,
        PICC line tip location system, urinary catheter, intermittent catheter, surgical smoke evacuator,
        patient warming system, tourniquet system, surgical stapler, wound closure strip,
        endoscope reprocessing system, single-use endoscope, single-use bronchoscope, pressure relieving mattress,
        heel offloading boot, compression garment, intermittent pneumatic compression device
    """),
    "logistics": _terms("""
        drone sample delivery, drone medicines delivery, pathology courier service, autonomous delivery robot,
        pneumatic tube system, cold chain monitoring, temperature-controlled transport box, blood product tracking,
        asset tracking system, RFID tagging system, inventory management system, theatre stock management,
        pharmacy automation robot, medicines dispensing cabinet, automated pill dispenser, home delivery service,
        patient transport scheduling, ambulance routing software, bed management system, portering management system,
        specimen tracking system, smart lockers, implant traceability system, waste segregation system
    """),
    "digital-mental-health": _terms("""
        digital CBT programme, guided self-help app, online therapy platform, mood tracking app,
        crisis support text service, peer support platform, mindfulness app, sleep improvement programme,
        digital therapy for insomnia, anxiety management app, depression relapse prevention app,
        eating disorder support app, psychosis early intervention app, suicide prevention tool,
        ADHD assessment platform, autism assessment platform, children's mental health app,
        perinatal mental health app, trauma-focused therapy app, virtual reality therapy,
        computerised cognitive training, wellbeing app for staff, addiction recovery app, gambling support app,
        talking therapies referral platform, digital outcome measures platform
    """),
    "population-health-analytics": _terms("""
        population health management platform, risk stratification dashboard, linked data platform,
        health inequalities dashboard, case finding tool, care coordination platform, waiting list validation tool,
        demand and capacity model, secure data environment, trusted research environment, shared care record,
        integrated care record, clinical audit platform, outcomes benchmarking service, prescribing analytics,
        frailty identification tool, anticipatory care tool, hypertension case finding tool,
        cardiovascular prevention dashboard, vaccination uptake dashboard, screening uptake dashboard,
        discharge planning analytics, emergency admissions forecasting, workforce planning tool
    """),
    "digital-therapeutics": _terms("""
        COPD self-management app, asthma inhaler tracker, heart failure self-care app, diabetes prevention programme,
        type 2 diabetes remission programme, weight management app, cardiac rehabilitation app,
        pulmonary rehabilitation app, musculoskeletal physiotherapy app, back pain exercise programme,
        knee osteoarthritis programme, stroke rehabilitation app, tinnitus therapy app, amblyopia treatment game,
        irritable bowel syndrome app, menopause support app, pelvic floor training app, smoking cessation app,
        alcohol reduction app, medication adherence app, chronic pain management programme, fatigue management app,
        long COVID rehabilitation programme, prehabilitation programme, cancer survivorship app, dementia support app,
        maternity monitoring app, pregnancy blood pressure app, gestational diabetes app, epilepsy seizure diary
    """),
}

DIGITAL_TERMS = _terms("""
NHS login, FHIR interfaces, HL7 v2 messaging, SNOMED CT coding, NHS App integration, GP record integration,
electronic patient record, EPR integration, single sign-on, role-based access, cloud hosting, UK data centres,
machine learning, deep learning, computer vision, natural language processing, large language model,
ambient voice, clinical dashboard, real-time alerts, secure messaging, video consultation, interoperability,
open APIs, data warehouse, analytics dashboard, predictive analytics, risk scores, remote configuration,
offline mode, accessibility features, WCAG 2.2 AA, multilingual content, easy read materials, audit trail,
clinical safety case, DCB0129, DCB0160, hazard log, penetration testing, Cyber Essentials Plus, ISO 27001,
ISO 13485, MHRA registration, UKCA marking, post-market surveillance, software as a medical device,
algorithm transparency, model monitoring, bias testing, human in the loop, explainability, data minimisation,
pseudonymisation, consent management, patient-reported outcomes, patient-reported experience,
Bluetooth connectivity, 4G connectivity, battery life, rechargeable devices, reusable sensors, single-use sensors
""")

PROCEDURES = _terms("""
hip replacement, knee replacement, cataract surgery, caesarean section, hysterectomy, appendicectomy,
cholecystectomy, hernia repair, coronary artery bypass grafting, percutaneous coronary intervention,
transcatheter aortic valve implantation, ablation for atrial fibrillation, pacemaker implantation,
carotid endarterectomy, thrombectomy, thrombolysis, bowel resection, stoma formation, bariatric surgery,
prostatectomy, transurethral resection, lithotripsy, dialysis access surgery, kidney transplant, liver transplant,
mastectomy, breast reconstruction, skin grafting, wound debridement, amputation, spinal fusion, discectomy,
carpal tunnel release, arthroscopy, fracture fixation, tonsillectomy, grommet insertion, cochlear implantation,
vitrectomy, intravitreal injections, glaucoma surgery, dental implants, tooth extraction, endoscopic resection,
polypectomy, tracheostomy, intubation, central line insertion, cannulation, catheterisation, blood transfusion,
chemotherapy, radiotherapy, immunotherapy, stem cell transplant, physiotherapy sessions, pulmonary rehabilitation,
cardiac rehabilitation, talking therapies, electroconvulsive therapy, day case surgery, robotic surgery,
keyhole surgery, enhanced recovery after surgery, pre-operative assessment, post-operative follow-up
""")

MEDICINES = _terms("""
anticoagulants, direct oral anticoagulants, warfarin, statins, antihypertensives, beta blockers, ACE inhibitors,
SGLT2 inhibitors, GLP-1 receptor agonists, insulin, metformin, inhaled corticosteroids, biologics,
bronchodilators, antibiotics, antivirals, antifungals, opioids, analgesics, antidepressants, antipsychotics,
anticonvulsants, immunosuppressants, chemotherapy agents, hormone replacement therapy, contraceptives,
vaccines, iron infusions, oxygen therapy, nebulised medicines, topical steroids, emollients, eye drops
""")

OUTCOMES = _terms("""
reduces avoidable admissions, frees clinician time, shortens length of stay, improves early detection,
cuts outpatient follow-up appointments, supports patients at home, lowers infection rates, speeds up diagnosis,
improves medicines optimisation, reduces waiting lists, gives clinicians a real-time view,
integrates with the GP record,
reduces readmissions, prevents deterioration, improves patient experience, reduces emergency attendances,
supports earlier discharge, improves adherence, cuts unnecessary referrals, reduces variation in care,
saves bed days, reduces ambulance conveyances, improves quality of life, reduces health inequalities,
reduces carbon emissions, cuts travel for patients, increases screening uptake, reduces missed appointments,
shortens time to treatment, improves survival, reduces complications, reduces pain, improves mobility,
reduces falls, prevents pressure damage, supports self-management, improves symptom control,
reduces prescribing costs, improves diagnostic accuracy, reduces reporting backlogs, reduces sickness absence,
releases nursing time, improves safety, supports shared decision making, supports personalised care
""")

STAFF = _terms("""
clinicians, nurses, doctors, consultants, GPs, pharmacists, physiotherapists, occupational therapists,
paramedics, midwives, health visitors, healthcare assistants, care home staff, carers, radiographers,
radiologists, pathologists, sonographers, dietitians, podiatrists, psychologists, therapists,
clinical scientists, community teams, multidisciplinary teams, care coordinators, social workers,
patients, families, service users, parents, children, older people, people with learning disabilities
""")

SETTINGS_WORDS = _terms("""
acute hospitals, district general hospitals, teaching hospitals, specialist centres, emergency departments,
urgent treatment centres, same day emergency care, outpatient clinics, day surgery units, operating theatres,
intensive care units, wards, community hospitals, GP practices, primary care networks, community pharmacies,
care homes, patients' homes, mental health trusts, ambulance services, integrated care systems,
community diagnostic centres, surgical hubs, rural areas, coastal communities, deprived areas, prisons, schools
""")

# Suffixes that make compositional terms out of conditions: "atrial fibrillation screening".
CONDITION_SUFFIXES = ("screening", "pathway", "self-management", "monitoring", "diagnosis", "detection",
                      "risk assessment", "education", "rehabilitation", "follow-up", "prevention", "care plan",
                      "triage", "referral", "management")
# Prefixes for anatomy: "cardiac" is common, so anatomy compositions use plain nouns: "knee imaging".
ANATOMY_SUFFIXES = ("imaging", "assessment", "surgery", "function monitoring", "health", "injury")

# Syllables of made-up brand names (the long tail of names: thousands of combinations).
BRAND_HEADS = ("Car", "Neo", "Vita", "Medi", "Puls", "Clar", "Nova", "Aero", "Lumi", "Sano", "Cura", "Theta",
               "Axi", "Hali", "Opti", "Quanti", "Sere", "Tri", "Veri", "Zen", "Oxy", "Derm", "Neuro", "Ortho",
               "Gast", "Nephr", "Ocu", "Audi", "Psy", "Resp", "Glyco", "Lyra", "Kine", "Sona", "Vasc", "Immu",
               "Pneu", "Hepa", "Onco", "Cyto", "Myo", "Osteo", "Ren", "Cardi", "Endo", "Hema", "Lipo", "Thera")
BRAND_TAILS = ("flow", "sense", "scope", "care", "link", "path", "view", "guard", "wave", "mind", "track", "cue",
               "dose", "beat", "lens", "vue", "gen", "sight", "well", "ward", "ly", "io", "ix", "ora", "ify", "metrics",
               "logic", "signal", "pulse", "nest", "bridge", "loop", "cast", "mark", "point", "shield", "health")


def compositional_terms() -> tuple[str, ...]:
    """Terms built from the curated lists: every condition with every suffix, anatomy with its suffixes."""
    built = [f"{condition} {suffix}" for condition, suffix in itertools.product(CONDITIONS, CONDITION_SUFFIXES)]
    built += [f"{part} {suffix}" for part, suffix in itertools.product(ANATOMY, ANATOMY_SUFFIXES)]
    return tuple(built)


def all_terms() -> tuple[str, ...]:
    products = tuple(itertools.chain.from_iterable(PRODUCTS_BY_CATEGORY.values()))
    return _terms("\n".join((*CONDITIONS, *ANATOMY, *SPECIALTIES, *TESTS_AND_IMAGING, *products, *DIGITAL_TERMS,
                             *PROCEDURES, *MEDICINES, *OUTCOMES, *STAFF, *SETTINGS_WORDS,
                             *compositional_terms())))


@dataclass
class ZipfPool:
    """Terms ranked in a seeded random order and drawn with weight 1 / (rank + 1) ** exponent: a few terms are
    everywhere, most are rare."""

    terms: tuple[str, ...]
    cumulative: list[float]

    @classmethod
    def of(cls, terms: Sequence[str], rng: random.Random, exponent: float = 1.05) -> ZipfPool:
        ranked = list(terms)
        rng.shuffle(ranked)
        cumulative, total = [], 0.0
        for rank in range(len(ranked)):
            total += 1.0 / (rank + 1) ** exponent
            cumulative.append(total)
        return cls(tuple(ranked), cumulative)

    def draw(self, rng: random.Random) -> str:
        return self.terms[bisect.bisect_left(self.cumulative, rng.random() * self.cumulative[-1])]

    def head(self, count: int) -> tuple[str, ...]:
        """The most frequent terms."""
        return self.terms[:count]

    def band(self, start: int, stop: int) -> tuple[str, ...]:
        """Terms by rank: the middle of the distribution makes "specific" queries."""
        return self.terms[start:stop]


@dataclass
class Vocabulary:
    """The pools a listing's text is drawn from, ranked once per seed."""

    conditions: ZipfPool
    anatomy: ZipfPool
    specialties: ZipfPool
    tests: ZipfPool
    products: dict[str, ZipfPool]
    any_product: ZipfPool
    digital: ZipfPool
    procedures: ZipfPool
    medicines: ZipfPool
    outcomes: ZipfPool
    staff: ZipfPool
    places: ZipfPool
    composed: ZipfPool

    @classmethod
    def build(cls, seed: int) -> Vocabulary:
        rng = random.Random(f"vocabulary:{seed}")
        products = {slug: ZipfPool.of(terms, rng, 0.9) for slug, terms in PRODUCTS_BY_CATEGORY.items()}
        return cls(
            conditions=ZipfPool.of(CONDITIONS, rng), anatomy=ZipfPool.of(ANATOMY, rng),
            specialties=ZipfPool.of(SPECIALTIES, rng), tests=ZipfPool.of(TESTS_AND_IMAGING, rng),
            products=products,
            any_product=ZipfPool.of(tuple(itertools.chain.from_iterable(PRODUCTS_BY_CATEGORY.values())), rng),
            digital=ZipfPool.of(DIGITAL_TERMS, rng, 0.9), procedures=ZipfPool.of(PROCEDURES, rng),
            medicines=ZipfPool.of(MEDICINES, rng), outcomes=ZipfPool.of(OUTCOMES, rng, 0.8),
            staff=ZipfPool.of(STAFF, rng, 1.2), places=ZipfPool.of(SETTINGS_WORDS, rng),
            composed=ZipfPool.of(compositional_terms(), rng, 1.0),
        )

    def brand(self, rng: random.Random) -> str:
        return rng.choice(BRAND_HEADS) + rng.choice(BRAND_TAILS)
